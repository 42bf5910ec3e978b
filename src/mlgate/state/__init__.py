"""The state store: what MLflow does not keep, in any SQLAlchemy database.

`StateStore` keeps the history of alias moves (it is the catalog's
`AliasHistory`); `rollout` the split the gateways apply, rollout events and the
controller's lease; `keys` the secret keys a deployment's processes share;
`predlog` the gateway's Parquet prediction and feedback log, `spool` where each
record is appended before its answer is sent, `convert` what turns spool files
into Parquet segments, and `layout` the records' and the segments' columns.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.state.keys import shared_key
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
    from mlgate.state.store import StateStore

#: Names whose modules load on first use: the log's converter process imports
#: `mlgate.state.convert`, which needs no SQLAlchemy (about 20 MB it would hold).
_LAZY = {
    "shared_key": "mlgate.state.keys",
    "StateStore": "mlgate.state.store",
    **dict.fromkeys(
        [
            "RolloutEvent",
            "RolloutState",
            "acquire_lease",
            "get_rollout",
            "record_event",
            "release_lease",
            "revision",
            "rollout_events",
            "set_rollout",
        ],
        "mlgate.state.rollout",
    ),
}

__all__ = [
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
    "shared_key",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlgate.state' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
