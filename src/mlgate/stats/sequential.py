"""An always-valid test for the difference of two proportions (mixture SPRT).

A/B rollouts look at their outcome after every interval. A t-test repeated at
every look rejects far more often than its nominal level (the chance of a
false "significant" grows with every peek). The mixture sequential probability
ratio test of Johari, Koomen, Pekelis and Walsh ("Always valid inference",
2017) stays valid however often it is looked at: its confidence sequence
covers the true difference at every look with probability at least 1 - alpha.
It uses a normal approximation of the difference and a N(0, tau²) mixture.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from mlgate.errors import DataError

__all__ = ["SequentialResult", "msprt"]


class SequentialResult(BaseModel):
    """The difference (candidate - baseline) with its always-valid interval."""

    difference: float
    low: float
    high: float
    p_value: float = Field(description="Always-valid p-value for 'no difference'.")
    baseline_n: int
    candidate_n: int
    alpha: float


def msprt(
    baseline_successes: int,
    baseline_n: int,
    candidate_successes: int,
    candidate_n: int,
    *,
    alpha: float = 0.05,
    tau: float = 0.05,
) -> SequentialResult:
    """The mSPRT confidence sequence and p-value for p_candidate - p_baseline.

    `tau` is the spread of the mixing prior on the difference: the size of the
    differences the test is most sensitive to (0.05 = five points of accuracy).
    """
    for what, successes, n in (
        ("baseline", baseline_successes, baseline_n),
        ("candidate", candidate_successes, candidate_n),
    ):
        if n < 0 or not 0 <= successes <= max(n, 0):
            raise DataError(
                f"{what}_successes must be between 0 and {what}_n, and {what}_n at least 0; "
                f"got {successes} of {n}"
            )
    if not 0.0 < alpha < 1.0:
        raise DataError(f"alpha must be between 0 and 1 (exclusive); got {alpha}")
    if not tau > 0.0:
        raise DataError(f"tau must be positive; got {tau}")
    if baseline_n == 0 or candidate_n == 0:
        return SequentialResult(
            difference=0.0,
            low=-1.0,
            high=1.0,
            p_value=1.0,
            baseline_n=baseline_n,
            candidate_n=candidate_n,
            alpha=alpha,
        )
    p_a = baseline_successes / baseline_n
    p_b = candidate_successes / candidate_n
    difference = p_b - p_a
    # A floor on the variance keeps the test honest when a rate is 0 or 1 early on.
    floor = 1.0 / (4.0 * (baseline_n + candidate_n))
    variance = max(p_a * (1 - p_a) / baseline_n + p_b * (1 - p_b) / candidate_n, floor)
    t2 = tau * tau
    log_ratio = 0.5 * math.log(variance / (variance + t2)) + (
        difference * difference * t2 / (2.0 * variance * (variance + t2))
    )
    p_value = 1.0 if log_ratio <= 0 else min(1.0, math.exp(-log_ratio))
    radius = math.sqrt(
        variance
        * (variance + t2)
        / t2
        * (2.0 * math.log(1.0 / alpha) + math.log((variance + t2) / variance))
    )
    return SequentialResult(
        difference=difference,
        low=max(-1.0, difference - radius),
        high=min(1.0, difference + radius),
        p_value=p_value,
        baseline_n=baseline_n,
        candidate_n=candidate_n,
        alpha=alpha,
    )
