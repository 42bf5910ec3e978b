"""What a batch scoring run is asked to do, as both engines take it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ScoreOptions"]


@dataclass(frozen=True)
class ScoreOptions:
    """The options of one `score` run that the local and the Spark engine share."""

    id_column: str | None
    batch_rows: int
    strict: bool
    overwrite: bool
    #: How many refused rows the result lists one by one (every one is counted).
    shown: int
