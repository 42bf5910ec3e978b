"""Rollouts: how traffic is split (`strategies`, pure functions of a request key and a
weight), what live traffic says (`analysis`, `decide`), and the `controller` that
analyses every interval and advances, promotes or rolls back through the road.
"""

from mlgate.rollout.strategies import Assignment, Role, assign, bucket

__all__ = ["Assignment", "Role", "assign", "bucket"]
