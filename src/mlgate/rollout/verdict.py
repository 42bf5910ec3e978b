"""What a judgement of live figures says: each threshold's `Check`, and the `Verdict` the
controller acts on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mlgate.stats.sequential import SequentialResult

__all__ = ["Action", "Check", "Verdict"]

Action = Literal["hold", "advance", "promote", "rollback"]


class Check(BaseModel):
    """One threshold on the live figures and whether it held."""

    name: str
    passed: bool
    value: float | None
    bound: float
    reason: str


class Verdict(BaseModel):
    """What the controller does after one analysis, and why."""

    action: Action
    reasons: list[str]
    checks: list[Check] = Field(default_factory=list)
    failures: int = Field(description="Consecutive failed analyses, this one included.")
    sequential: SequentialResult | None = None
