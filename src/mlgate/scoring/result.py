"""What a batch scoring run did: rows scored and skipped, why, where, how fast."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, computed_field

__all__ = ["EngineRun", "Refusal", "ScoreResult"]


class Refusal(BaseModel):
    """A row the input checks refused: the gateway's refusal, with the row's id."""

    row_id: int
    code: str = Field(description="The gateway's code for it: not_a_number, missing_value...")
    feature: str | None = None
    reason: str


class ScoreResult(BaseModel):
    """One batch scoring run."""

    model: str
    version: str
    engine: Literal["local", "spark"]
    input: str
    output: str | None = Field(
        None, description="Where the predictions are; None when nothing was written (--strict)."
    )
    complete: bool = Field(
        description="Whether every batch was scored: false when --strict stopped at a bad row."
    )
    rows_read: int = 0
    rows_scored: int = 0
    rows_skipped: int = 0
    refusals: list[Refusal] = Field(
        default_factory=list, description="The first refused rows (at most `shown`)."
    )
    refusal_codes: dict[str, int] = Field(
        default_factory=dict, description="Every refused row counted by its code."
    )
    request_id: str | None = Field(
        None, description="The prediction log's request id of every row (with --log)."
    )
    rows_logged: int = 0
    role: str | None = Field(None, description="The role the rows were logged under (--log).")
    seconds: float = Field(0.0, description="The whole run, the model's loading included.")
    scoring_seconds: float = Field(0.0, description="Reading, checking, scoring and writing.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_per_s(self) -> float:
        """Rows read per second of scoring (the model's loading left out)."""
        return self.rows_read / self.scoring_seconds if self.scoring_seconds > 0 else 0.0


@dataclass
class EngineRun:
    """What an engine did: rows read and scored, the first refusals, every one counted."""

    rows_read: int = 0
    rows_scored: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    complete: bool = True
