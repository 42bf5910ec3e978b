"""The controller's judgement: one analysis in, one action out. Pure, so it is testable.

Canary and blue-green advance a step when every check passes, hold while
there is too little data, and roll back after `failure_limit` failed analyses
in a row. Shadow and A/B run until their evidence is clear or their time is
up. A/B judges live accuracy with the mixture SPRT, whose interval stays valid
however often it is looked at, at alpha/2, and with one fixed-horizon test at
alpha/2 at the planned end, so a challenger worse than the margin is promoted
with probability at most alpha.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, Field

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis, VersionFigures
from mlgate.stats.sequential import SequentialResult, msprt

__all__ = ["Check", "Verdict", "judge"]

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


def _at_most(value: float, bound: float) -> bool:
    """value <= bound, where a value shown equal to its bound is (0.78 - 0.80 is -0.0200...02)."""
    return value <= bound + 1e-9


def _checks(analysis: Analysis, config: RolloutConfig) -> list[Check]:
    a = config.analysis
    champion, challenger = analysis.champion, analysis.challenger
    checks = [
        Check(
            name="error_rate",
            passed=_at_most(challenger.error_rate, a.max_error_rate)
            and _at_most(challenger.error_rate - champion.error_rate, a.max_error_rate),
            value=challenger.error_rate,
            bound=a.max_error_rate,
            reason=f"challenger error rate {challenger.error_rate:.2%} "
            f"(champion {champion.error_rate:.2%}), limit {a.max_error_rate:.2%}",
        )
    ]
    if challenger.p99_latency_ms is not None and champion.p99_latency_ms:
        ratio = challenger.p99_latency_ms / champion.p99_latency_ms
        within = _at_most(challenger.p99_latency_ms - champion.p99_latency_ms, a.latency_slack_ms)
        checks.append(
            Check(
                name="p99_latency_ratio",
                passed=_at_most(ratio, a.max_p99_latency_ratio) or within,
                value=ratio,
                bound=a.max_p99_latency_ratio,
                reason=f"p99 latency {challenger.p99_latency_ms:.2f} ms vs champion "
                f"{champion.p99_latency_ms:.2f} ms: ratio {ratio:.2f}, limit "
                f"{a.max_p99_latency_ratio:g}"
                + (f" (within the {a.latency_slack_ms:g} ms slack)" if within else ""),
            )
        )
    if analysis.agreement is not None and config.strategy in ("canary", "shadow"):
        checks.append(
            Check(
                name="agreement",
                passed=_at_most(a.min_agreement, analysis.agreement),
                value=analysis.agreement,
                bound=a.min_agreement,
                reason=f"agreement with the champion {analysis.agreement:.2%} on "
                f"{analysis.compared_rows} rows, minimum {a.min_agreement:.0%}",
            )
        )
    if (
        config.strategy != "ab"
        and champion.accuracy is not None
        and challenger.accuracy is not None
        and min(champion.labelled, challenger.labelled) >= a.min_labels
    ):
        # The arms answer different rows, so their accuracies differ by chance alone: only
        # a challenger whose always-valid interval lies wholly below the minimum fails,
        # however often the controller looks (with 100 labels each, 0.77 vs 0.80 is noise).
        result = msprt(
            champion.correct,
            champion.labelled,
            challenger.correct,
            challenger.labelled,
            alpha=config.alpha,
        )
        checks.append(
            Check(
                name="live_accuracy_delta",
                passed=_at_most(a.min_live_accuracy_delta, result.high),
                value=result.difference,
                bound=a.min_live_accuracy_delta,
                reason=f"live accuracy {challenger.accuracy:.3f} vs champion "
                f"{champion.accuracy:.3f} ({_signed(result.difference)}, always-valid "
                f"{1 - config.alpha:.0%} interval {_signed(result.low)} to "
                f"{_signed(result.high)}), "
                f"minimum {a.min_live_accuracy_delta:+g}",
            )
        )
    return checks


def judge(
    analysis: Analysis,
    config: RolloutConfig,
    *,
    step: int,
    failures: int,
    elapsed: float,
) -> Verdict:
    """The action after one analysis at step `step` (0-based), `elapsed` seconds in."""
    challenger = analysis.challenger
    enough = challenger.requests >= config.analysis.min_requests
    checks = _checks(analysis, config) if challenger.requests else []
    failed = [c for c in checks if not c.passed]
    # Failures count even on little data: a challenger failing every request need not wait.
    if failed and (enough or challenger.errors >= config.analysis.min_requests // 10 + 1):
        failures += 1
        reasons = [c.reason for c in failed]
        if failures >= config.failure_limit:
            return Verdict(action="rollback", reasons=reasons, checks=checks, failures=failures)
        return Verdict(action="hold", reasons=reasons, checks=checks, failures=failures)
    if not enough and config.strategy in ("shadow", "ab") and elapsed >= config.max_duration:
        # An experiment must end: too little traffic by its deadline is no evidence to promote.
        return Verdict(
            action="rollback",
            reasons=[
                f"the experiment ran {elapsed:.0f} s (limit {config.max_duration:.0f} s) and saw "
                f"{challenger.requests} challenger request(s); a verdict needs "
                f"{config.analysis.min_requests}"
            ],
            checks=checks,
            failures=failures,
        )
    if not enough:
        return Verdict(
            action="hold",
            reasons=[
                f"{challenger.requests} challenger request(s) so far; a verdict needs "
                f"{config.analysis.min_requests}"
            ],
            checks=checks,
            failures=failures,
        )
    if config.strategy == "ab":
        return _judge_ab(analysis, config, checks, elapsed)
    if config.strategy == "shadow":
        return _judge_shadow(analysis, config, checks, elapsed)
    last = len(config.steps) - 1 if config.strategy == "canary" else 0
    passed = [c.reason for c in checks]
    if step >= last:
        return Verdict(
            action="promote", reasons=passed or ["every check passed"], checks=checks, failures=0
        )
    return Verdict(
        action="advance", reasons=passed or ["every check passed"], checks=checks, failures=0
    )


def _judge_shadow(
    analysis: Analysis, config: RolloutConfig, checks: list[Check], elapsed: float
) -> Verdict:
    labelled = min(analysis.champion.labelled, analysis.challenger.labelled)
    if config.sample_size is not None and labelled >= config.sample_size:
        return Verdict(
            action="promote", reasons=[c.reason for c in checks], checks=checks, failures=0
        )
    if elapsed >= config.max_duration:
        return Verdict(
            action="promote",
            reasons=[f"shadowed for {elapsed:.0f} s with every check passing"]
            + [c.reason for c in checks],
            checks=checks,
            failures=0,
        )
    return Verdict(
        action="hold",
        reasons=[f"shadowing: {elapsed:.0f} of {config.max_duration:.0f} s, every check passing"],
        checks=checks,
        failures=0,
    )


def _final_bound(
    champion_correct: int, champion_labelled: int, challenger: VersionFigures, alpha: float
) -> float:
    """One-sided lower confidence bound of challenger - champion accuracy (normal approx.)."""
    if not champion_labelled or not challenger.labelled:
        return -1.0
    a = champion_correct / champion_labelled
    b = challenger.correct / challenger.labelled
    se = math.sqrt(a * (1 - a) / champion_labelled + b * (1 - b) / challenger.labelled)
    return b - a - NormalDist().inv_cdf(1 - alpha) * se


def _judge_ab(
    analysis: Analysis, config: RolloutConfig, checks: list[Check], elapsed: float
) -> Verdict:
    """Alpha split in two: half on an always-valid interval looked at after every
    interval (stop early when the answer is clear), half on one fixed-horizon
    non-inferiority test at the planned end. A challenger worse than the margin is
    promoted only if one of the two errs: at most alpha in all (union bound).
    Spending all of alpha on the sequence instead leaves it so wide that most equal
    challengers end with no clear answer and are rolled back
    (benchmarks/rollout_decisions.py)."""
    champion, challenger = analysis.champion, analysis.challenger
    half = config.alpha / 2
    result = msprt(
        champion.correct,
        champion.labelled,
        challenger.correct,
        challenger.labelled,
        alpha=half,
    )
    shown = (
        f"live accuracy difference {_signed(result.difference)}, always-valid "
        f"{1 - half:.1%} interval {_signed(result.low)} to {_signed(result.high)} "
        f"({challenger.labelled} vs {champion.labelled} labelled rows)"
    )

    def verdict(action: Action, reason: str) -> Verdict:
        """The verdict for `action`: a rollback is this experiment's one failed analysis."""
        failures = 1 if action == "rollback" else 0
        return Verdict(
            action=action, reasons=[reason], checks=checks, failures=failures, sequential=result
        )

    if result.high < -config.margin:
        return verdict(
            "rollback", f"the challenger is worse by more than {config.margin:g}: {shown}"
        )
    if (
        result.low > -config.margin
        and min(champion.labelled, challenger.labelled) >= config.analysis.min_labels
    ):
        return verdict("promote", f"the challenger is not worse than {config.margin:g}: {shown}")
    enough = (
        config.sample_size is not None
        and min(champion.labelled, challenger.labelled) >= config.sample_size
    )
    if elapsed >= config.max_duration or enough:
        bound = _final_bound(champion.correct, champion.labelled, challenger, half)
        final = (
            f"at the end, the one-sided {1 - half:.1%} lower bound of the difference is "
            f"{_signed(bound)}"
        )
        if bound > -config.margin and challenger.labelled and champion.labelled:
            return verdict(
                "promote", f"the challenger is not worse than {config.margin:g}: {final}; {shown}"
            )
        return verdict(
            "rollback",
            f"the challenger may be worse by more than {config.margin:g}: {final}; {shown}",
        )
    return verdict("hold", f"still measuring: {shown}")


def _signed(value: float) -> str:
    """`value` to three places with its sign, never "-0.000"."""
    return f"{round(value, 3) + 0.0:+.3f}"
