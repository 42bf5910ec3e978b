"""The champion-vs-candidate decision: regressions judged by the configured rule."""

from __future__ import annotations

import math

from pydantic import BaseModel

from mlgate.config.models import GatesConfig
from mlgate.errors import ConfigError
from mlgate.gates.absolute import GateCheck, GateResult, gate_absolute
from mlgate.gates.compare import Comparison, MetricComparison

__all__ = ["Loss", "decide", "loss_of"]


class Loss(BaseModel):
    """How much worse the candidate is (positive = worse), with its interval."""

    point: float
    low: float | None
    high: float | None


def loss_of(entry: MetricComparison) -> Loss | None:
    """The candidate's loss against the baseline on one metric, whatever its direction."""
    if entry.difference is None:
        return None
    if entry.greater_is_better:
        low = None if entry.ci_high is None else -entry.ci_high
        high = None if entry.ci_low is None else -entry.ci_low
        return Loss(point=-entry.difference, low=low, high=high)
    return Loss(point=entry.difference, low=entry.ci_low, high=entry.ci_high)


def _within(loss: float, margin: float) -> bool:
    """`loss <= margin`, counting a loss equal to the margin up to rounding as within.

    A difference of accuracies such as 170/200 - 174/200 is -0.020000000000000018 in
    floating point; a margin of 0.02 is meant to allow it.
    """
    return loss <= margin or math.isclose(loss, margin, rel_tol=1e-9, abs_tol=1e-12)


def _judge(loss: Loss, margin: float, rule: str) -> bool:
    """Whether a loss is acceptable under `rule` (intervals fall back to the point)."""
    if rule == "point":
        return _within(loss.point, margin)
    if rule == "non_inferiority":
        return _within(loss.high if loss.high is not None else loss.point, margin)
    if rule == "significant_regression":
        return _within(loss.low if loss.low is not None else loss.point, margin)
    raise ConfigError(
        f"unknown regression rule {rule!r}; known: point, non_inferiority, significant_regression"
    )


def _missing(entry: MetricComparison | None, label: str) -> str:
    """Why a regression on `label` cannot be judged."""
    if entry is None:
        return (
            f"{label}: cannot compare, it was not computed for both models (a metric of "
            "another task, or one that needs predicted probabilities a model lacks)"
        )
    sides = [
        side
        for side, value in (("champion", entry.baseline), ("candidate", entry.candidate))
        if value is None
    ]
    if not sides:
        return f"{label}: cannot compare, the comparison holds no difference for it"
    return (
        f"{label}: cannot compare, it is undefined for the {' and the '.join(sides)} on these rows "
        "(e.g. a class the metric needs has no rows there)"
    )


def _shown(value: float, margin: float) -> str:
    """`value`, signed, with enough digits not to print equal to a margin it exceeds."""
    for digits in (4, 6, 8, 10):
        text = f"{value:+.{digits}f}"
        if _within(value, margin) or not _within(float(text), margin):
            return text
    return f"{value:+}"


#: The end of the loss each rule holds against the margin, as the reason names it.
_JUDGED = {
    "point": "observed loss",
    "non_inferiority": "interval's upper end",
    "significant_regression": "interval's lower end",
}


def _check(
    entry: MetricComparison | None,
    metric: str,
    margin: float,
    kind: str,
    rule: str,
    where: str | None = None,
    allowed: str | None = None,
) -> GateCheck:
    """One regression check; `allowed` says where a derived margin came from."""
    label = f"{metric}" + (f" on {where}" if where else "")
    loss = loss_of(entry) if entry else None
    if loss is None:
        return GateCheck.unmeasured(metric, kind, margin, _missing(entry, label), slice=where)
    passed = _judge(loss, margin, rule)
    interval = (loss.low, loss.high) if loss.low is not None and loss.high is not None else None
    shown = (
        f" (interval {_shown(interval[0], margin)} to {_shown(interval[1], margin)})"
        if interval
        else ""
    )
    # Past this width no rule tells an equal model from one 2 margins worse well
    # (benchmarks/decision_quality.py: 15-36% of the point rule's verdicts wrong).
    half = (interval[1] - interval[0]) / 2 if interval else 0.0
    note = (
        f"; too few rows to judge reliably (interval ±{half:.4f}, wider than the margin)"
        if half > margin
        else ""
    )
    judged, value = _JUDGED[rule], loss.point
    if rule == "non_inferiority" and loss.high is not None:
        value = loss.high
    elif rule == "significant_regression" and loss.low is not None:
        value = loss.low
    else:
        judged = _JUDGED["point"]
    return GateCheck(
        metric=metric,
        kind=kind,
        bound=margin,
        value=loss.point,
        passed=passed,
        reason=f"{label}: loss against the champion {_shown(loss.point, margin)}{shown}; "
        f"{judged} {_shown(value, margin)} {'within' if passed else 'beyond'} the allowed "
        f"{margin:g}{f' ({allowed})' if allowed else ''}, {rule} rule{note}",
        interval=interval,
        slice=where,
    )


def decide(comparison: Comparison, gates: GatesConfig) -> GateResult:
    """Every absolute and regression check for the candidate in `comparison`."""
    candidate = {name: m.candidate for name, m in comparison.metrics.items()}
    checks = list(gate_absolute(candidate, gates).checks)
    for metric, margin in gates.max_regression.items():
        checks.append(
            _check(comparison.metrics.get(metric), metric, margin, "regression", gates.rule)
        )
    for metric, share in gates.max_relative_regression.items():
        entry = comparison.metrics.get(metric)
        base = entry.baseline if entry else None
        margin = share * abs(base) if base is not None else share
        allowed = f"{share * 100:g}% of the champion's {base:.4g}" if base is not None else None
        checks.append(
            _check(entry, metric, margin, "relative_regression", gates.rule, allowed=allowed)
        )
    if gates.slice_max_regression is not None:
        for part in comparison.slices:
            for metric in gates.max_regression:
                checks.append(
                    _check(
                        part.metrics.get(metric),
                        metric,
                        gates.slice_max_regression,
                        "slice_regression",
                        gates.rule,
                        where=f"{part.column}={part.value}",
                    )
                )
    return GateResult(checks=checks)
