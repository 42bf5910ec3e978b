"""Rollout state in the state store: which strategy and weight the gateways apply.

Every change bumps `revision`; gateways poll it (one indexed read) together with
the newest alias move, and reload when either changes. Several gateway
processes on one database therefore agree on the split.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import DateTime, Float, Integer, String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from mlgate.config.rollout import STRATEGIES, Strategy
from mlgate.errors import ConfigError, RevisionConflict
from mlgate.processes import Owner
from mlgate.state.base import Base
from mlgate.state.store import StateStore, _AliasEventRow

__all__ = [
    "RevisionConflict",
    "RolloutEvent",
    "RolloutState",
    "acquire_lease",
    "get_rollout",
    "record_event",
    "release_lease",
    "revision",
    "rollout_events",
    "set_rollout",
]

_Model = TypeVar("_Model", bound=BaseModel)


class _RolloutRow(Base):
    __tablename__ = "mlgate_rollouts"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(20), default="none")
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), default="idle")
    plan: Mapped[str] = mapped_column(Text, default="{}")
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class RolloutState(BaseModel):
    """How a model's traffic is split between champion and challenger right now."""

    model: str
    strategy: Strategy = "none"
    weight: float = Field(0.0, ge=0.0, le=100.0, description="Percent of traffic to challenger.")
    status: str = "idle"
    plan: dict[str, Any] = Field(default_factory=dict)
    revision: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""
    note: str = ""

    @field_validator("updated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _from_row(kind: type[_Model], row: Base, json_column: str) -> _Model:
    """`kind` from the row's columns of the same names, the JSON text in `json_column` decoded."""
    values = {name: getattr(row, name) for name in kind.model_fields}
    values[json_column] = json.loads(values[json_column] or "{}")
    return kind(**values)


def _state(row: _RolloutRow) -> RolloutState:
    return _from_row(RolloutState, row, "plan")


def get_rollout(store: StateStore, model: str) -> RolloutState:
    """The model's rollout state; a model never rolled out serves its champion only."""
    with store.session() as session:
        row = session.get(_RolloutRow, model)
        return _state(row) if row is not None else RolloutState(model=model)


def set_rollout(
    store: StateStore,
    model: str,
    *,
    strategy: str,
    weight: float,
    actor: str,
    note: str = "",
    status: str | None = None,
    plan: dict[str, Any] | None = None,
    expect_revision: int | None = None,
) -> RolloutState:
    """Change the split (one transaction) and bump the revision gateways watch.

    With `expect_revision`, only if the state is still at that revision: one
    conditional UPDATE (or the first INSERT), so of two callers that read the same
    state exactly one wins; the other gets RevisionConflict and nothing changes.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(
            "unknown strategy", field="strategy", value=strategy, allowed=", ".join(STRATEGIES)
        )
    if not 0.0 <= weight <= 100.0:
        raise ConfigError(
            "weight must be a percentage", field="weight", value=weight, allowed="0 to 100"
        )
    if expect_revision is not None:
        return _set_if(store, model, expect_revision, strategy, weight, actor, note, status, plan)
    with store.session() as session:
        row = session.get(_RolloutRow, model, with_for_update=True)
        if row is None:
            row = _RolloutRow(model=model, revision=0, plan="{}", status="idle")
            session.add(row)
        row.strategy = strategy
        row.weight = float(weight)
        row.revision = (row.revision or 0) + 1
        row.updated_at = datetime.now(UTC)
        row.updated_by = actor
        row.note = note
        if status is not None:
            row.status = status
        if plan is not None:
            row.plan = json.dumps(plan)
        session.flush()
        return _state(row)


def _set_if(
    store: StateStore,
    model: str,
    expected: int,
    strategy: str,
    weight: float,
    actor: str,
    note: str,
    status: str | None,
    plan: dict[str, Any] | None,
) -> RolloutState:
    from sqlalchemy.exc import IntegrityError

    values: dict[str, Any] = {
        "strategy": strategy,
        "weight": float(weight),
        "revision": expected + 1,
        "updated_at": datetime.now(UTC),
        "updated_by": actor,
        "note": note,
    }
    if status is not None:
        values["status"] = status
    if plan is not None:
        values["plan"] = json.dumps(plan)
    try:
        with store.session() as session:
            changed = session.execute(
                update(_RolloutRow)
                .where(_RolloutRow.model == model, _RolloutRow.revision == expected)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 0) != 1:
                if expected != 0 or session.get(_RolloutRow, model) is not None:
                    raise RevisionConflict(model)
                session.add(_RolloutRow(model=model, **values))
                session.flush()
            row = session.get(_RolloutRow, model, populate_existing=True)
            assert row is not None
            return _state(row)
    except IntegrityError:  # another caller inserted the first row at the same time
        raise RevisionConflict(model) from None


def revision(store: StateStore, model: str) -> tuple[int, int]:
    """(rollout revision, newest alias move id): when either changes, reload."""
    with store.session() as session:
        rollout = session.scalar(select(_RolloutRow.revision).where(_RolloutRow.model == model))
        moved = session.scalar(
            select(func.max(_AliasEventRow.id)).where(_AliasEventRow.model == model)
        )
        return int(rollout or 0), int(moved or 0)


class _RolloutEventRow(Base):
    __tablename__ = "mlgate_rollout_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(30))
    strategy: Mapped[str] = mapped_column(String(20))
    weight: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    figures: Mapped[str] = mapped_column(Text, default="{}")
    actor: Mapped[str] = mapped_column(String(200), default="")


class RolloutEvent(BaseModel):
    """One thing that happened in a rollout, with the figures behind it."""

    id: int
    model: str
    at: datetime
    kind: str
    strategy: str
    weight: float
    step: int
    message: str
    figures: dict[str, Any] = Field(default_factory=dict)
    actor: str = ""

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def record_event(
    store: StateStore,
    model: str,
    *,
    kind: str,
    strategy: str,
    weight: float,
    step: int = 0,
    message: str = "",
    figures: dict[str, Any] | None = None,
    actor: str = "",
) -> RolloutEvent:
    """Append one rollout event."""
    with store.session() as session:
        row = _RolloutEventRow(
            model=model,
            at=datetime.now(UTC),
            kind=kind,
            strategy=strategy,
            weight=float(weight),
            step=step,
            message=message,
            figures=json.dumps(figures or {}, default=str),
            actor=actor,
        )
        session.add(row)
        session.flush()
        return _event(row)


def _event(row: _RolloutEventRow) -> RolloutEvent:
    return _from_row(RolloutEvent, row, "figures")


def rollout_events(store: StateStore, model: str, *, limit: int = 100) -> list[RolloutEvent]:
    """The newest `limit` events of the model's rollouts, oldest first."""
    with store.session() as session:
        rows = session.scalars(
            select(_RolloutEventRow)
            .where(_RolloutEventRow.model == model)
            .order_by(_RolloutEventRow.id.desc())
            .limit(limit)
        ).all()
        return [_event(row) for row in reversed(rows)]


class _LeaseRow(Base):
    __tablename__ = "mlgate_leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[float] = mapped_column(Float)


def acquire_lease(store: StateStore, name: str, holder: str, ttl: float) -> bool:
    """Take or renew the lease `name` for `ttl` seconds; False while another holds it.

    One conditional UPDATE (or an INSERT for a lease never taken), so that two
    processes that both find the lease free cannot both take it: SQLite takes no
    lock on a read and PostgreSQL may see the same row before either writes.
    """
    import time

    from sqlalchemy.exc import IntegrityError

    now = time.time()
    try:
        with store.session() as session:
            taken = session.execute(
                update(_LeaseRow)
                .where(
                    _LeaseRow.name == name,
                    or_(_LeaseRow.holder == holder, _LeaseRow.expires_at <= now),
                )
                .values(holder=holder, expires_at=now + ttl)
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) == 1:
                return True
            held = session.get(_LeaseRow, name)
            if held is not None:
                # Held by another and not expired: free only if its holder is certainly
                # gone (SIGKILLed on this host), taken from that holder alone.
                return _take_from_dead(session, name, held.holder, holder, now + ttl)
            session.add(_LeaseRow(name=name, holder=holder, expires_at=now + ttl))
            return True
    except IntegrityError:  # another process inserted it first
        return False


def _take_from_dead(session: Any, name: str, dead: str, holder: str, until: float) -> bool:
    """Take lease `name` from holder `dead` if that process certainly runs no more."""
    owner = Owner.parse(dead)
    if owner is None or not owner.gone():
        return False
    taken = session.execute(
        update(_LeaseRow)
        .where(_LeaseRow.name == name, _LeaseRow.holder == dead)
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return getattr(taken, "rowcount", 0) == 1


def release_lease(store: StateStore, name: str, holder: str) -> None:
    """Give the lease up early if `holder` has it."""
    with store.session() as session:
        row = session.get(_LeaseRow, name, with_for_update=True)
        if row is not None and row.holder == holder:
            row.expires_at = 0.0
