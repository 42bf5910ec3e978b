"""Promote, roll back, nominate: one implementation of each act, whoever asks.

`mlgate models promote`, `mlgate rollout promote`, `POST /admin/promote` and
the controller all promote through `promote`: during a rollout it ends the
rollout on record; otherwise it moves the champion and all traffic goes to it.
Each act is one alias move (or none), one record and one notification.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel

from mlgate.registry import aliases
from mlgate.registry.history import AliasEvent
from mlgate.road.rollouts import end_rollout, require_running, settle
from mlgate.state.rollout import RolloutState, get_rollout, set_rollout

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["Act", "abort", "nominate", "promote", "rollback"]

_Act = TypeVar("_Act", bound=Callable[..., "Act"])


def _one_at_a_time(act: _Act) -> _Act:
    """`act` under the project's lock: two acts at once would read the same state and
    both move from it (two rollbacks popping the same champion)."""

    @functools.wraps(act)
    def locked(project: Project, *args: Any, **kwargs: Any) -> Act:
        with project.acting:
            return act(project, *args, **kwargs)

    return cast(_Act, locked)


class Act(BaseModel):
    """What an act did: the alias move it made by hand (None when nothing moved that
    way), and the rollout it ended, when it ended one."""

    model: str
    action: str
    moved: AliasEvent | None = None
    ended: RolloutState | None = None


@_one_at_a_time
def promote(
    project: Project,
    version: str | None = None,
    *,
    reason: str,
    actor: str | None = None,
    force: bool = False,
    model: str | None = None,
) -> Act:
    """Make `version` the champion (by default: the running rollout's challenger).

    A running rollout of that version ends, promoted; any other version is moved
    by hand and a rollout it displaces is settled. A version that failed its gates
    needs `force`; a version that already is champion moves nothing. `model`: another
    registered model than the project's own.
    """
    name, actor = model or project.name, actor or project.actor
    state = _current(project, name, actor)
    running = state.status == "running"
    if version is None or (running and version == str(state.plan.get("challenger"))):
        rollout = require_running(project, name)
        finished = end_rollout(project, rollout, "promote", reason, {}, actor)
        return Act(model=name, action="promote", ended=finished)
    moved = aliases.promote(project.catalog, name, version, reason=reason, force=force)
    ended = _settled(project, name, actor) if running else None
    if moved is not None:
        if not running:
            _reset(project, name, "promoted", actor)
        _notify(project, moved, f"champion {moved.from_version or '-'} → {moved.to_version}")
    return Act(model=name, action="promote", moved=moved, ended=ended)


@_one_at_a_time
def rollback(
    project: Project, *, reason: str, actor: str | None = None, model: str | None = None
) -> Act:
    """Take the challenger out of a running rollout; with none running, point the
    champion back at the version that held it before."""
    name, actor = model or project.name, actor or project.actor
    before = get_rollout(project.state, name)
    state = _current(project, name, actor, before)
    if state is not before and state.status != "running":  # settled just now: nothing to undo
        return Act(model=name, action="rollback", ended=state)
    if state.status == "running":
        ended = end_rollout(project, state, "rollback", reason, {}, actor)
        return Act(model=name, action="rollback", ended=ended)
    moved = aliases.rollback(project.catalog, name, reason=reason)
    _reset(project, name, "rolled_back", actor)
    _notify(project, moved, f"champion {moved.from_version} → {moved.to_version}")
    return Act(model=name, action="rollback", moved=moved)


@_one_at_a_time
def abort(project: Project, *, reason: str, actor: str | None = None) -> Act:
    """Roll the running rollout back now: all traffic to the champion."""
    actor = actor or project.actor
    _current(project, project.name, actor)
    state = require_running(project)
    ended = end_rollout(project, state, "rollback", reason, {}, actor)
    return Act(model=project.name, action="rollback", ended=ended)


@_one_at_a_time
def nominate(
    project: Project,
    version: str,
    *,
    reason: str,
    force: bool = False,
    model: str | None = None,
) -> Act:
    """Make `version` the challenger (again); it reaches users through a rollout."""
    name = model or project.name
    moved = aliases.nominate(project.catalog, name, version, reason=reason, force=force)
    ended = None
    if moved is not None:
        ended = _settled(project, name, moved.actor)
        _notify(project, moved, f"challenger {moved.from_version or '-'} → {moved.to_version}")
    return Act(model=name, action="nominate", moved=moved, ended=ended)


def _current(
    project: Project, name: str, actor: str, state: RolloutState | None = None
) -> RolloutState:
    """The rollout state, after settling a running rollout whose versions were moved
    outside it (so that no act ends a rollout of a version no longer served)."""
    state = state or get_rollout(project.state, name)
    if state.status == "running":
        return settle(project, state, actor) or state
    return state


def _settled(project: Project, name: str, actor: str) -> RolloutState | None:
    """The running rollout of `name` ended because an alias moved under it, if it did."""
    state = get_rollout(project.state, name)
    return settle(project, state, actor) if state.status == "running" else None


def _reset(project: Project, name: str, status: str, actor: str) -> None:
    """All traffic to the (new) champion, the split ended with `status`."""
    set_rollout(project.state, name, strategy="none", weight=0.0, actor=actor, status=status)


def _notify(project: Project, moved: AliasEvent, what: str) -> None:
    project.notifier.notify(
        f"alias_{moved.action}",
        f"mlgate {moved.model}: {what} ({moved.action} by {moved.actor}: {moved.reason})",
        model=moved.model,
        alias=moved.alias,
        version=moved.to_version,
    )
