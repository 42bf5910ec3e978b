"""The controller's judgement: one analysis in, one action out. Pure, so it is testable.

Canary and blue-green advance a step when every check passes, hold while
there is too little data, and roll back after `failure_limit` failed analyses
in a row; a blue-green's first step is its pre-switch analysis, on answers to
mirrored requests that no user sees. Shadow and A/B run until their evidence
is clear or their time is up. A step that needs live accuracy (an A/B, or a set
`min_live_accuracy_delta`) waits for its labels, then acts by `on_missing_labels`.
A/B judges live accuracy with the mixture SPRT, whose interval stays valid
however often it is looked at, at alpha/2, and with one fixed-horizon test at
alpha/2 at the planned end, so a challenger worse than the margin is promoted
with probability at most alpha. A canary that requires live accuracy is judged
the same way at its last step, on every labelled row since the rollout began,
while `holdback` percent of keys stay on the champion; a shadow, on the rows
both versions answered (paired, so far fewer labels decide).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, Field

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis
from mlgate.stats.sequential import SequentialResult, msprt, msprt_paired

__all__ = ["Check", "Verdict", "judge", "thresholds"]

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


def thresholds(
    analysis: Analysis,
    config: RolloutConfig,
    labels: Analysis | None = None,
    *,
    mirrored: bool,
    names: tuple[str, str] = ("challenger", "champion"),
) -> list[Check]:
    """The thresholds on these figures, live accuracy on `labels`' rows (by default the
    same figures'); `mirrored`: the challenger answered copies of the champion's requests
    (shadow, blue-green before its switch), so agreement counts. The reasons call the
    two (challenger, champion) by `names` (the judge's: canary, baseline)."""
    labels = labels or analysis
    a = config.analysis
    new, old = names
    champion, challenger = analysis.champion, analysis.challenger
    checks = [
        Check(
            name="error_rate",
            passed=_at_most(challenger.error_rate, a.max_error_rate)
            and _at_most(challenger.error_rate - champion.error_rate, a.max_error_rate),
            value=challenger.error_rate,
            bound=a.max_error_rate,
            reason=f"{new} error rate {challenger.error_rate:.2%} "
            f"({old} {champion.error_rate:.2%}), limit {a.max_error_rate:.2%}",
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
                reason=f"p99 latency {challenger.p99_latency_ms:.2f} ms vs {old} "
                f"{champion.p99_latency_ms:.2f} ms: ratio {ratio:.2f}, limit "
                f"{a.max_p99_latency_ratio:g}"
                + (f" (within the {a.latency_slack_ms:g} ms slack)" if within else ""),
            )
        )
    if analysis.agreement is not None and (config.strategy == "canary" or mirrored):
        checks.append(
            Check(
                name="agreement",
                passed=_at_most(a.min_agreement, analysis.agreement),
                value=analysis.agreement,
                bound=a.min_agreement,
                reason=f"agreement with the {old} {analysis.agreement:.2%} on "
                f"{analysis.compared_rows} rows, minimum {a.min_agreement:.0%}",
            )
        )
    champion, challenger = labels.champion, labels.challenger
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
                passed=_at_most(config.live_accuracy_floor, result.high),
                value=result.difference,
                bound=config.live_accuracy_floor,
                reason=f"live accuracy {challenger.accuracy:.3f} vs {old} "
                f"{champion.accuracy:.3f} ({_signed(result.difference)}, always-valid "
                f"{1 - config.alpha:.0%} interval {_signed(result.low)} to "
                f"{_signed(result.high)}), "
                f"minimum {config.live_accuracy_floor:+g}",
            )
        )
    estimated = _estimated_check(analysis, labels, config)
    if estimated is not None:
        checks.append(estimated)
    return checks


def _estimated_check(analysis: Analysis, labels: Analysis, config: RolloutConfig) -> Check | None:
    """With rollout.analysis.estimated: enforce and too few labels for live accuracy, the
    challenger's estimated performance against the champion's: it fails when its interval
    lies beyond the champion's on the worse side by more than the margin. None when not
    enforced, when labels have come (live accuracy has the last word), or without both
    estimates."""
    a, estimated = config.analysis, analysis.estimated
    if a.estimated != "enforce" or estimated is None:
        return None
    labelled = min(labels.champion.labelled, labels.challenger.labelled)
    if config.strategy == "shadow" and config.needs_labels:
        labelled = labels.paired_labelled
    if labelled >= a.min_labels:
        return None
    shortfall = estimated.shortfall()
    if shortfall is None:
        return None
    margin = -_floor(config)
    unit = "of the champion's MAE" if estimated.metric == "mae" else ""
    return Check(
        name="estimated_performance",
        passed=_at_most(shortfall, margin),
        value=shortfall,
        bound=margin,
        reason=f"{estimated.describe()}: the challenger's interval lies {shortfall:+.3f} "
        f"{unit + ' ' if unit else ''}beyond the champion's on the worse side, limit "
        f"{margin:g} (rollout.analysis.estimated: enforce, before {a.min_labels} labelled "
        "rows per version)",
    )


def judge(
    analysis: Analysis,
    config: RolloutConfig,
    *,
    step: int,
    failures: int,
    elapsed: float,
    step_elapsed: float | None = None,
    accumulated: Analysis | None = None,
) -> Verdict:
    """The action after one analysis at step `step` (0-based), `elapsed` seconds after the
    rollout started and `step_elapsed` after this step did (default: the same).
    `accumulated`: the figures since the rollout started, whose labelled rows a canary's
    live accuracy is judged on (default: this step's)."""
    step_elapsed = elapsed if step_elapsed is None else step_elapsed
    labels = accumulated or analysis
    challenger = analysis.challenger
    pre = config.pre_switching and step == 0
    needed = config.pre_switch_requests if pre else config.analysis.min_requests
    enough = challenger.requests >= needed
    mirrored = pre or config.strategy == "shadow"
    checks = thresholds(analysis, config, labels, mirrored=mirrored) if challenger.requests else []
    failed = [c for c in checks if not c.passed]
    # Failures count even on little data: a challenger failing every request need not wait.
    if failed and (enough or challenger.errors >= needed // 10 + 1):
        failures += 1
        reasons = [c.reason for c in failed]
        if pre:
            reasons[0] = (
                f"the pre-switch analysis failed on {challenger.requests} mirrored "
                f"request(s), so no user got the challenger's answers: {reasons[0]}"
            )
        if failures >= config.failure_limit:
            return Verdict(action="rollback", reasons=reasons, checks=checks, failures=failures)
        return Verdict(action="hold", reasons=reasons, checks=checks, failures=failures)
    if not enough and pre and step_elapsed >= config.pre_switch_duration:
        # Too few copies to judge is no evidence to switch all traffic on.
        return Verdict(
            action="rollback",
            reasons=[
                f"the pre-switch analysis saw {challenger.requests} mirrored request(s) in "
                f"{step_elapsed:.0f} s (rollout.pre_switch.max_duration "
                f"{config.pre_switch_duration:g} s); the switch needs {needed}"
            ],
            checks=checks,
            failures=failures,
        )
    if not enough and config.strategy in ("shadow", "ab") and elapsed >= config.max_duration:
        # An experiment must end: too little traffic by its deadline is no evidence to promote.
        return Verdict(
            action="rollback",
            reasons=[
                f"the experiment ran {elapsed:.0f} s (limit {config.max_duration:.0f} s) and saw "
                f"{challenger.requests} challenger request(s); a verdict needs {needed}"
            ],
            checks=checks,
            failures=failures,
        )
    if not enough:
        seen = (
            f"pre-switch analysis: {challenger.requests} mirrored request(s) so far; the "
            f"switch needs {needed}"
            if pre
            else f"{challenger.requests} challenger request(s) so far; a verdict needs {needed}"
        )
        return Verdict(action="hold", reasons=[seen], checks=checks, failures=failures)
    if config.strategy == "ab":
        verdict = _judge_ab(analysis, config, checks, elapsed)
    elif config.strategy == "shadow" and config.needs_labels:
        verdict = _judge_paired(analysis, config, checks, elapsed)
    elif config.strategy == "shadow":
        verdict = _judge_shadow(analysis, config, checks, elapsed)
    elif config.holding_back and step >= len(config.steps) - 1:
        verdict = _judge_holdback(labels, config, checks, step_elapsed)
    else:
        verdict = _judge_steps(analysis, config, checks, step, pre=pre)
    if _shown_worse(verdict, config) or not (config.needs_labels and _decisive(config, step)):
        return verdict
    return _without_labels(labels, config, verdict, step_elapsed, failures) or verdict


def _judge_steps(
    analysis: Analysis, config: RolloutConfig, checks: list[Check], step: int, *, pre: bool
) -> Verdict:
    """Canary and blue-green with every check passing: the next step, or the promotion."""
    if config.strategy == "canary":
        last = len(config.steps) - 1
    else:
        last = 1 if config.pre_switching else 0
    passed = [c.reason for c in checks] or ["every check passed"]
    if pre:
        passed.insert(
            0,
            f"the pre-switch analysis passed on {analysis.challenger.requests} mirrored "
            "request(s): all traffic switches to the challenger",
        )
    action: Action = "promote" if step >= last else "advance"
    return Verdict(action=action, reasons=passed, checks=checks, failures=0)


def _shown_worse(verdict: Verdict, config: RolloutConfig) -> bool:
    """A rollback on evidence: every rollback but an A/B's at its end with no clear answer
    (which, on too few labels, is a matter for on_missing_labels)."""
    if verdict.action != "rollback":
        return False
    result = verdict.sequential
    return result is None or result.high < _floor(config)


def _floor(config: RolloutConfig) -> float:
    """The least live accuracy difference a promotion needs shown: -margin in an A/B,
    min_live_accuracy_delta in a canary or shadow that requires live accuracy."""
    return -config.margin if config.strategy == "ab" else config.live_accuracy_floor


def _decisive(config: RolloutConfig, step: int) -> bool:
    """Whether `step` is the one that needs live accuracy: the last on which both versions
    answer users' rows (so that both have labels) before the challenger gets all traffic
    or is promoted. A canary's step before 100%, a blue-green's pre-switch analysis; a
    shadow's or A/B's only step."""
    if config.strategy == "canary":
        last = len(config.steps) - 1
        return step == (last if config.holding_back else max(last - 1, 0))
    if config.strategy == "blue-green":
        return step == 0
    return True


def _without_labels(
    analysis: Analysis,
    config: RolloutConfig,
    verdict: Verdict,
    step_elapsed: float,
    failures: int,
) -> Verdict | None:
    """What a step that needs live accuracy does with fewer than min_labels labelled rows
    per version: hold for them until labels_wait, then act by on_missing_labels. None
    when the labels are there."""
    a = config.analysis
    champion, challenger = analysis.champion.labelled, analysis.challenger.labelled
    if config.strategy == "shadow":  # judged on the rows both answered
        champion = challenger = analysis.paired_labelled
    if min(champion, challenger) >= a.min_labels:
        return None
    asked = (
        "an A/B judges by live accuracy"
        if config.strategy == "ab"
        else "live accuracy is required (rollout.analysis.min_live_accuracy_delta "
        f"{config.live_accuracy_floor:+g})"
    )
    short = (
        f"{asked} and needs {a.min_labels} labelled rows per version from POST /feedback; "
        f"{challenger} (challenger) and {champion} (champion) so far"
    )
    wait, then = config.labels_wait, a.on_missing_labels
    checks, sequential = verdict.checks, verdict.sequential
    if step_elapsed < wait:
        reason = (
            f"waiting for labels: {short}; waited {step_elapsed:.0f} of {wait:g} s "
            f"(rollout.analysis.labels_wait), then {then} (rollout.analysis.on_missing_labels)"
        )
        return Verdict(
            action="hold", reasons=[reason], checks=checks, failures=failures, sequential=sequential
        )
    late = (
        f"no verdict on live accuracy after {step_elapsed:.0f} s "
        f"(rollout.analysis.labels_wait {wait:g} s): {short}; "
        f"rollout.analysis.on_missing_labels is {then}"
    )
    if then == "hold":
        return Verdict(
            action="hold",
            reasons=[f"{late}: holding until they come, or a person promotes or aborts"],
            checks=checks,
            failures=failures,
            sequential=sequential,
        )
    if then == "rollback":
        return Verdict(
            action="rollback",
            reasons=[late],
            checks=checks,
            failures=failures + 1,
            sequential=sequential,
        )
    # promote: on as if live accuracy had passed
    going: Action = verdict.action if verdict.action == "advance" else "promote"
    return Verdict(
        action=going,
        reasons=[f"{late}: going on without it", *(c.reason for c in checks)],
        checks=checks,
        failures=0,
        sequential=sequential,
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


def _final_bound(difference: float, variance: float, alpha: float) -> float:
    """One-sided lower confidence bound of a difference (normal approximation)."""
    return difference - NormalDist().inv_cdf(1 - alpha) * math.sqrt(variance)


def _unpaired(analysis: Analysis, alpha: float) -> tuple[SequentialResult, float]:
    """The always-valid interval at `alpha` and the fixed-horizon lower bound at `alpha`
    of challenger - champion live accuracy, the arms answering different rows."""
    champion, challenger = analysis.champion, analysis.challenger
    result = msprt(
        champion.correct, champion.labelled, challenger.correct, challenger.labelled, alpha=alpha
    )
    if not champion.labelled or not challenger.labelled:
        return result, -1.0
    a = champion.correct / champion.labelled
    b = challenger.correct / challenger.labelled
    variance = a * (1 - a) / champion.labelled + b * (1 - b) / challenger.labelled
    return result, _final_bound(b - a, variance, alpha)


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
    labelled = min(champion.labelled, challenger.labelled)
    result, bound = _unpaired(analysis, config.alpha / 2)
    rows = f"{challenger.labelled} vs {champion.labelled} labelled rows"
    end = elapsed >= config.max_duration or (
        config.sample_size is not None and labelled >= config.sample_size
    )
    return _conclude(result, bound, config, checks, labelled=labelled, end=end, rows=rows)


def _judge_holdback(
    labels: Analysis, config: RolloutConfig, checks: list[Check], step_elapsed: float
) -> Verdict:
    """A canary's last step with its holdback, judged as an A/B is on every labelled row
    since the rollout started: the champion's early steps and its holdback against the
    challenger's steps. The step ends at `duration`."""
    champion, challenger = labels.champion, labels.challenger
    result, bound = _unpaired(labels, config.alpha / 2)
    rows = (
        f"{challenger.labelled} vs {champion.labelled} labelled rows since the rollout began, "
        f"{config.holdback:g}% of keys held back on the champion"
    )
    return _conclude(
        result,
        bound,
        config,
        checks,
        labelled=min(champion.labelled, challenger.labelled),
        end=step_elapsed >= config.max_duration,
        rows=rows,
    )


def _judge_paired(
    analysis: Analysis, config: RolloutConfig, checks: list[Check], elapsed: float
) -> Verdict:
    """A shadow that requires live accuracy: both versions answered the same requests,
    so the test is on the labelled rows where exactly one was right."""
    n, worse, better = analysis.paired_labelled, analysis.champion_only, analysis.challenger_only
    half = config.alpha / 2
    result = msprt_paired(n, worse, better, alpha=half)
    bound = -1.0
    if n:
        difference = (better - worse) / n
        variance = max(((better + worse) / n - difference * difference) / n, 1.0 / (n * n))
        bound = _final_bound(difference, variance, half)
    rows = (
        f"{n} labelled rows both answered: {better} only the challenger got right, "
        f"{worse} only the champion"
    )
    end = elapsed >= config.max_duration or (
        config.sample_size is not None and n >= config.sample_size
    )
    return _conclude(result, bound, config, checks, labelled=n, end=end, rows=rows)


def _conclude(
    result: SequentialResult,
    bound: float,
    config: RolloutConfig,
    checks: list[Check],
    *,
    labelled: int,
    end: bool,
    rows: str,
) -> Verdict:
    """Non-inferiority with alpha split in two (see _judge_ab): `result` the always-valid
    interval at alpha/2, `bound` the fixed-horizon lower bound at alpha/2 used at the `end`."""
    floor, half = _floor(config), config.alpha / 2
    shown = (
        f"live accuracy difference {_signed(result.difference)}, always-valid "
        f"{1 - half:.1%} interval {_signed(result.low)} to {_signed(result.high)} ({rows})"
    )

    def verdict(action: Action, reason: str) -> Verdict:
        """The verdict for `action`: a rollback is this experiment's one failed analysis."""
        failures = 1 if action == "rollback" else 0
        return Verdict(
            action=action, reasons=[reason], checks=checks, failures=failures, sequential=result
        )

    if result.high < floor:
        return verdict("rollback", f"the challenger is worse by more than {-floor:g}: {shown}")
    if result.low > floor and labelled >= config.analysis.min_labels:
        return verdict("promote", f"the challenger is not worse than {-floor:g}: {shown}")
    if end:
        final = (
            f"at the end, the one-sided {1 - half:.1%} lower bound of the difference is "
            f"{_signed(bound)}"
        )
        if bound > floor and labelled:
            return verdict(
                "promote", f"the challenger is not worse than {-floor:g}: {final}; {shown}"
            )
        return verdict(
            "rollback", f"the challenger may be worse by more than {-floor:g}: {final}; {shown}"
        )
    return verdict("hold", f"still measuring: {shown}")


def _signed(value: float) -> str:
    """`value` to three places with its sign, never "-0.000"."""
    return f"{round(value, 3) + 0.0:+.3f}"
