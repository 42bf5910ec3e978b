"""Rollouts: traffic strategies now; the controller that moves them follows."""

from mlgate.rollout.strategies import Assignment, Role, assign, bucket

__all__ = ["Assignment", "Role", "assign", "bucket"]
