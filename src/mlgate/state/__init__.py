"""The state store: what MLflow does not keep, in any SQLAlchemy database.

`StateStore` keeps the history of alias moves (it is the catalog's
`AliasHistory`); `rollout` the split the gateways apply, rollout events and the
controller's lease; `keys` the secret keys a deployment's processes share;
`predlog` the gateway's Parquet prediction and feedback log, `spool` where each
record is appended before its answer is sent, `convert` what turns spool files
into Parquet segments, and `layout` the records' and the segments' columns.
"""

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
