"""The state store: alias history and rollout state, in any SQLAlchemy database."""

from mlgate.state.rollout import (
    RolloutEvent,
    RolloutState,
    acquire_lease,
    get_rollout,
    record_event,
    release_lease,
    revision,
    rollout_events,
    set_rollout,
)
from mlgate.state.store import AliasEvent, StateStore

__all__ = [
    "AliasEvent",
    "RolloutEvent",
    "RolloutState",
    "StateStore",
    "acquire_lease",
    "get_rollout",
    "record_event",
    "release_lease",
    "revision",
    "rollout_events",
    "set_rollout",
]
