"""The state store: alias history now, rollout state later."""

from mlgate.state.store import AliasEvent, StateStore

__all__ = ["AliasEvent", "StateStore"]
