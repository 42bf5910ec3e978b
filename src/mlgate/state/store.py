"""mlgate's state store: what MLflow does not keep, in any SQLAlchemy database.

SQLite under `.mlgate/` by default; PostgreSQL (or any SQLAlchemy URL) at scale.
It keeps the history of alias moves (the catalog's `AliasHistory`), rollout
state and events, leases, and nothing MLflow already keeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, Text, create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from mlgate.config.settings import redact_url
from mlgate.errors import ConfigError
from mlgate.registry.history import AliasEvent
from mlgate.state.base import Base

__all__ = ["StateStore"]


class _AliasEventRow(Base):
    __tablename__ = "mlgate_alias_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    alias: Mapped[str] = mapped_column(String(100))
    from_version: Mapped[str | None] = mapped_column(String(50), nullable=True)
    to_version: Mapped[str | None] = mapped_column(String(50), nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StateStore:
    """Access to the state database; tables are created on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = _engine(url)

    def close(self) -> None:
        """Close the pooled connections (a server otherwise sees them until exit)."""
        self._engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with Session(self._engine) as session, session.begin():
            yield session

    @contextmanager
    def moving_alias(
        self,
        *,
        model: str,
        alias: str,
        from_version: str | None,
        to_version: str | None,
        action: str,
        actor: str,
        reason: str = "",
    ) -> Iterator[AliasEvent]:
        """A transaction holding one alias move: kept if the block ends without an error."""
        row = _AliasEventRow(
            model=model,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            action=action,
            actor=actor,
            reason=reason,
            at=datetime.now(UTC),
        )
        with self.session() as session:
            session.add(row)
            session.flush()
            yield AliasEvent.model_validate(row)

    def alias_history(self, model: str, alias: str | None = None) -> list[AliasEvent]:
        """Every recorded move of `model`'s aliases (or of one alias), oldest first."""
        query = select(_AliasEventRow).where(_AliasEventRow.model == model)
        if alias is not None:
            query = query.where(_AliasEventRow.alias == alias)
        with Session(self._engine) as session:
            rows = session.scalars(query.order_by(_AliasEventRow.id)).all()
            return [AliasEvent.model_validate(row) for row in rows]


#: libpq settings that turn a cut network into an error within seconds: without them a
#: query on a connection whose link went down waits for TCP to give up (many minutes),
#: and a gateway's poll of the split with it. Settings the URL names are left alone.
_POSTGRES_BOUNDS = {"connect_timeout": 5, "tcp_user_timeout": 5000, "keepalives_idle": 5}


def _bounded(url: str) -> dict[str, object]:
    """The connection arguments bounding a PostgreSQL connection's waits; none for others."""
    if not url.startswith("postgresql"):
        return {}
    from sqlalchemy.engine import make_url

    named = set(make_url(url).query)
    return {k: v for k, v in _POSTGRES_BOUNDS.items() if k not in named}


def _engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True, connect_args=_bounded(url))
        _create_tables(engine)
    # ValueError: a URL SQLAlchemy half-parses, such as a port that is not a number
    except (SQLAlchemyError, ImportError, ValueError, OSError) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ConfigError(
            f"cannot open the state store ({type(e).__name__}: {_scrub(detail, url)}).",
            field="MLGATE_STATE_URL",
            value=redact_url(url),
            fix="Set MLGATE_STATE_URL to a reachable SQLAlchemy URL (PostgreSQL: "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB), or unset it for SQLite.",
        ) from e
    return engine


#: The PostgreSQL advisory lock held while the tables are made ("mlgate" in ASCII).
_SCHEMA_LOCK = 0x6D6C67617465


def _create_tables(engine: Engine) -> None:
    """Make the tables that are missing, also when several gateways start at once.

    Two processes creating the same table race (PostgreSQL: a duplicate pg_type row;
    SQLite: "table already exists"): on PostgreSQL one waits for the other under an
    advisory lock, and anywhere a failed attempt is tried again, when the tables the
    other process made are found and left alone.
    """
    for attempt in range(3):
        try:
            if engine.dialect.name == "postgresql":
                with engine.begin() as connection:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK}
                    )
                    Base.metadata.create_all(connection)
            else:
                Base.metadata.create_all(engine)
            return
        except SQLAlchemyError:
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))


def _scrub(text: str, url: str) -> str:
    """`text` with `url`'s password hidden, should a driver quote it back."""
    text = text.replace(url, redact_url(url))
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:  # a URL too broken to parse has no password to find here
        password = None
    return text.replace(str(password), "***") if password else text
