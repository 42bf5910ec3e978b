"""The state store: alias history and rollout state, in any SQLAlchemy database."""

from mlgate.state.rollout import RolloutState, get_rollout, revision, set_rollout
from mlgate.state.store import AliasEvent, StateStore

__all__ = ["AliasEvent", "RolloutState", "StateStore", "get_rollout", "revision", "set_rollout"]
