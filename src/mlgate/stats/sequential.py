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

__all__ = ["SequentialResult", "msprt", "msprt_paired"]


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
    _check(alpha, tau)
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
    # A floor on the variance keeps the test honest when a rate is 0 or 1 early on.
    floor = 1.0 / (4.0 * (baseline_n + candidate_n))
    variance = max(p_a * (1 - p_a) / baseline_n + p_b * (1 - p_b) / candidate_n, floor)
    return _sequence(p_b - p_a, variance, alpha, tau, baseline_n, candidate_n)


def msprt_paired(
    rows: int,
    baseline_only: int,
    candidate_only: int,
    *,
    alpha: float = 0.05,
    tau: float = 0.05,
) -> SequentialResult:
    """The mSPRT confidence sequence for p_candidate - p_baseline on the same `rows`,
    where `baseline_only` rows only the baseline got right and `candidate_only` only
    the candidate did. Rows both get right or both get wrong add no variance: on paired
    rows the interval is far tighter than on two independent samples of that size."""
    if rows < 0 or baseline_only < 0 or candidate_only < 0 or baseline_only + candidate_only > rows:
        raise DataError(
            "rows must be at least 0 and baseline_only + candidate_only (each at least 0) at "
            f"most rows; got {baseline_only} + {candidate_only} of {rows}"
        )
    _check(alpha, tau)
    if rows == 0:
        return SequentialResult(
            difference=0.0,
            low=-1.0,
            high=1.0,
            p_value=1.0,
            baseline_n=0,
            candidate_n=0,
            alpha=alpha,
        )
    difference = (candidate_only - baseline_only) / rows
    discordant = (candidate_only + baseline_only) / rows
    # The floor: after n rows without one discordant pair, a difference of about 1/n is
    # still as likely as none.
    variance = max((discordant - difference * difference) / rows, 1.0 / (rows * rows))
    return _sequence(difference, variance, alpha, tau, rows, rows)


def _check(alpha: float, tau: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise DataError(f"alpha must be between 0 and 1 (exclusive); got {alpha}")
    if not tau > 0.0:
        raise DataError(f"tau must be positive; got {tau}")


def _sequence(
    difference: float, variance: float, alpha: float, tau: float, baseline_n: int, candidate_n: int
) -> SequentialResult:
    """The confidence sequence and p-value for a difference of normal-approximation
    `variance`, under a N(0, tau²) mixture."""
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
