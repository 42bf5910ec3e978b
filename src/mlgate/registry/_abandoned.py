"""Registrations a killed process left half done, found and closed by the next one.

A registration is an MLflow run that stays RUNNING until the version it made has
its verdict and aliases; the run is tagged with the host, process id and process
start time of the `mlgate run` that made it. A SIGKILL (or a lost machine) leaves
the run RUNNING and perhaps a version that passed its gates but never got its
alias. The next registration of the same model closes such runs, but only those
whose process is certainly gone: made on this host by a process id that no
longer runs, or that now belongs to a process started at another time. A run
from another host is left as it is: nothing here can tell whether it still runs.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

from mlgate.processes import Owner
from mlgate.registry._mlflow import TAG, escape
from mlgate.registry.history import AliasHistory

__all__ = ["KILLED", "close_abandoned", "mark_failed", "owner_tags"]

#: The reason a version whose registration was cut short is marked failed with.
KILLED = "the run that registered it was killed"

_HOST, _PID, _STARTED = f"{TAG}host", f"{TAG}pid", f"{TAG}pid_started"


def owner_tags() -> dict[str, str]:
    """Tags naming this process, put on every run it starts."""
    me = Owner.this()
    return {_HOST: me.host, _PID: str(me.pid), _STARTED: me.started}


def close_abandoned(client: Any, experiment_id: str, name: str, history: AliasHistory) -> int:
    """Close the runs of `name`'s experiment that a dead process on this host left
    RUNNING; how many were closed.

    A run whose version had its alias moved finished its work: it is marked
    FINISHED. Otherwise it is marked FAILED and each version it registered is
    marked failed, with the reason that its run was killed.
    """
    from mlflow.entities import RunStatus

    host = socket.gethostname()
    running = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{_HOST}` = '{escape(host)}'",
        max_results=1000,
    )
    closed = 0
    for run in (r for r in running if _dead(r.data.tags)):
        run_id = run.info.run_id
        versions = client.search_model_versions(f"run_id = '{escape(run_id)}'")
        moved = _moved(client, name, history) if versions else set()
        done = any(str(v.version) in moved for v in versions)
        if not done:
            for version in versions:
                mark_failed(client, name, str(version.version), version.tags or {}, KILLED)
            client.set_tag(run_id, f"{TAG}passed", "false")
            client.set_tag(run_id, f"{TAG}reasons", json.dumps([KILLED]))
        status = RunStatus.FINISHED if done else RunStatus.FAILED
        client.set_terminated(run_id, RunStatus.to_string(status))
        logging.getLogger(__name__).warning(
            "closed run %s of %s, left running by process %s, which is gone: %s",
            run_id,
            name,
            run.data.tags.get(_PID),
            "its registration had finished" if done else KILLED,
        )
        closed += 1
    return closed


def mark_failed(client: Any, name: str, version: str, tags: dict[str, str], reason: str) -> None:
    """Mark a version failed with `reason` first (and the reasons it failed with already)."""
    from mlgate.registry._record import fit_reasons, read_reasons

    reasons = [reason]
    if tags.get(f"{TAG}passed") == "false":
        reasons += read_reasons(tags.get(f"{TAG}reasons"))
    client.set_model_version_tag(name, version, f"{TAG}reasons", fit_reasons(reasons))
    client.set_model_version_tag(name, version, f"{TAG}passed", "false")
    client.update_model_version(name, version, description=f"FAILED: {reason}"[:1000])


def _moved(client: Any, name: str, history: AliasHistory) -> set[str]:
    """Versions an alias points at or was ever moved to."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client.get_registered_model(name).aliases or {}
    except MlflowException:  # no registered model yet: the run died before making one
        aliases = {}
    moved = {str(v) for v in aliases.values()}
    return moved | {e.to_version for e in history.alias_history(name) if e.to_version}


def _dead(tags: dict[str, str]) -> bool:
    """Whether the process a run's tags name is certainly gone (same host checked)."""
    if not tags.get(_PID, "").isdigit():
        return False
    return Owner(tags.get(_HOST, ""), int(tags[_PID]), tags.get(_STARTED, "")).gone()
