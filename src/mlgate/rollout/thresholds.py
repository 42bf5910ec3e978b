"""The thresholds an analysis is held to: error rate, p99 latency, agreement, live accuracy
and, before labels come, estimated performance; each one a `Check` that passed or failed.

The rollout controller judges its steps by them (`decide`), and so does the judge of a
rollout another controller runs (`judge`), with the same `rollout.analysis` settings.
"""

from __future__ import annotations

from mlgate.config.rollout import RolloutConfig
from mlgate.rollout.analysis import Analysis
from mlgate.rollout.noninferiority import accuracy_floor, signed
from mlgate.rollout.verdict import Check
from mlgate.stats.sequential import msprt

__all__ = ["thresholds"]


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
                f"{champion.accuracy:.3f} ({signed(result.difference)}, always-valid "
                f"{1 - config.alpha:.0%} interval {signed(result.low)} to "
                f"{signed(result.high)}), "
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
    margin = -accuracy_floor(config)
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
