"""The controller's judgement: one analysis in, one action out. Pure, so it is testable.

Canary and blue-green advance a step when every check passes (`thresholds`), hold while
there is too little data, and roll back after `failure_limit` failed analyses
in a row; a blue-green's first step is its pre-switch analysis, on answers to
mirrored requests that no user sees. Shadow and A/B run until their evidence
is clear or their time is up. A step that needs live accuracy (an A/B, or a set
`min_live_accuracy_delta`) waits for its labels, then acts by `on_missing_labels`;
how live accuracy is judged (A/B, a canary's holdback, a paired shadow) is
`noninferiority`'s.
"""

from __future__ import annotations

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis
from mlgate.rollout.noninferiority import accuracy_floor, judge_ab, judge_holdback, judge_paired
from mlgate.rollout.thresholds import thresholds
from mlgate.rollout.verdict import Action, Check, Verdict

__all__ = ["Check", "Verdict", "judge", "thresholds"]


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
        verdict = judge_ab(analysis, config, checks, elapsed)
    elif config.strategy == "shadow" and config.needs_labels:
        verdict = judge_paired(analysis, config, checks, elapsed)
    elif config.strategy == "shadow":
        verdict = _judge_shadow(analysis, config, checks, elapsed)
    elif config.holding_back and step >= len(config.steps) - 1:
        verdict = judge_holdback(labels, config, checks, step_elapsed)
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
    return result is None or result.high < accuracy_floor(config)


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
