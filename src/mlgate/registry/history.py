"""The history of alias moves: what the catalog records, and the interface it records to.

The catalog does not own a database of its own: MLflow keeps the aliases, and
whoever opens the catalog hands it an `AliasHistory` (the state store is one)
that keeps every move, so that a rollback knows where to go back to and
`mlgate models history` can say who moved what, when and why.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["AliasEvent", "AliasHistory"]


class AliasEvent(BaseModel):
    """One move of an alias: from which version to which, by whom, why, when."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    action: str
    actor: str
    reason: str
    at: datetime

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # SQLite hands back naive datetimes, PostgreSQL ones in the session's time zone;
        # every time here was written in UTC.
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class AliasHistory(Protocol):
    """Where alias moves are kept."""

    def alias_history(self, model: str, alias: str | None = None) -> list[AliasEvent]:
        """Every recorded move of `model`'s aliases (or of one alias), oldest first."""
        ...

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
    ) -> AbstractContextManager[AliasEvent]:
        """A block in which the alias is moved: the move is kept if the block ends
        without an error, and forgotten if it raises."""
        ...
