"""The state store: what MLflow does not keep, in any SQLAlchemy database.

`StateStore` keeps the history of alias moves (it is the catalog's
`AliasHistory`); `rollout` the split the gateways apply, rollout events and the
controller's lease; `keys` the secret keys a deployment's processes share;
`predlog` the gateway's Parquet prediction and feedback log, `spool` where each
record is appended before its answer is sent, `convert` what turns spool files
into Parquet segments, and `layout` the records' and the segments' columns.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers read: the names below, each said as exported
    from mlgate.state.keys import shared_key as shared_key
    from mlgate.state.rollout import RolloutEvent as RolloutEvent
    from mlgate.state.rollout import RolloutState as RolloutState
    from mlgate.state.rollout import acquire_lease as acquire_lease
    from mlgate.state.rollout import get_rollout as get_rollout
    from mlgate.state.rollout import record_event as record_event
    from mlgate.state.rollout import release_lease as release_lease
    from mlgate.state.rollout import revision as revision
    from mlgate.state.rollout import rollout_events as rollout_events
    from mlgate.state.rollout import set_rollout as set_rollout
    from mlgate.state.store import StateStore as StateStore

#: What each module exports, loaded on first use: the log's converter process imports
#: `mlgate.state.convert`, which needs no SQLAlchemy (about 20 MB it would hold).
#: Type checkers read the same names from the imports above.
_EXPORTS = {
    "mlgate.state.keys": ["shared_key"],
    "mlgate.state.rollout": [
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
    "mlgate.state.store": ["StateStore"],
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlgate.state' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
