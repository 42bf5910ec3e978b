"""Live accuracy judged for non-inferiority: is the challenger worse than the champion by
more than the margin?

An A/B judges it with the mixture SPRT, whose interval stays valid however often it is
looked at, at alpha/2, and with one fixed-horizon test at alpha/2 at the planned end, so
a challenger worse than the margin is promoted with probability at most alpha. A canary
that requires live accuracy is judged the same way at its last step, on every labelled
row since the rollout began, while `holdback` percent of keys stay on the champion; a
shadow, on the rows both versions answered (paired, so far fewer labels decide).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis
from mlgate.rollout.verdict import Action, Check, Verdict
from mlgate.stats.sequential import SequentialResult, msprt, msprt_paired

__all__ = ["accuracy_floor", "judge_ab", "judge_holdback", "judge_paired", "signed"]


def accuracy_floor(config: RolloutConfig) -> float:
    """The least live accuracy difference a promotion needs shown: -margin in an A/B,
    min_live_accuracy_delta in a canary or shadow that requires live accuracy."""
    return -config.margin if config.strategy == "ab" else config.live_accuracy_floor


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


def judge_ab(
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


def judge_holdback(
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


def judge_paired(
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
    """Non-inferiority with alpha split in two (see judge_ab): `result` the always-valid
    interval at alpha/2, `bound` the fixed-horizon lower bound at alpha/2 used at the `end`."""
    floor, half = accuracy_floor(config), config.alpha / 2
    shown = (
        f"live accuracy difference {signed(result.difference)}, always-valid "
        f"{1 - half:.1%} interval {signed(result.low)} to {signed(result.high)} ({rows})"
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
            f"{signed(bound)}"
        )
        if bound > floor and labelled:
            return verdict(
                "promote", f"the challenger is not worse than {-floor:g}: {final}; {shown}"
            )
        return verdict(
            "rollback", f"the challenger may be worse by more than {-floor:g}: {final}; {shown}"
        )
    return verdict("hold", f"still measuring: {shown}")


def signed(value: float) -> str:
    """`value` to three places with its sign, never "-0.000"."""
    return f"{round(value, 3) + 0.0:+.3f}"
