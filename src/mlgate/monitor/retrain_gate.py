"""The monitor's retrain gate: what a retrained model must meet besides the regression gates.

`floors` holds it to `gates.min` and `gates.max`, as any run. `beat_champion`
puts in their place, for drift that lowers every model's accuracy, one check per
metric they name: the retrained model must be better than the champion on the
held-out recent labelled rows. The check reads the paired comparison the gates
make (`mlgate.gates.compare`: the bootstrap interval of the difference, and
McNemar's p for accuracy) and judges the gain by `gates.rule`, at the end of the
interval that rule holds against its margin, here zero:

- point: the observed gain is above zero;
- non_inferiority: the interval's lower end is above zero (shown better);
- significant_regression: the interval's upper end is above zero (not shown to be
  no better).
"""

from __future__ import annotations

from mlgate.config.models import GatesConfig
from mlgate.gates.absolute import GateCheck, GateResult
from mlgate.gates.compare import Comparison, MetricComparison
from mlgate.gates.decide import decide, loss_of

__all__ = ["DEFAULT_METRIC", "beat_champion", "beat_champion_verdict", "floor_metrics"]

#: The metric judged when the gates set no floor or ceiling.
DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}

#: The end of the gain each rule holds against zero, as the reason names it.
_JUDGED = {
    "point": "observed gain",
    "non_inferiority": "interval's lower end",
    "significant_regression": "interval's upper end",
}


def floor_metrics(gates: GatesConfig, task: str) -> list[str]:
    """The metrics `beat_champion` judges: those with a floor or ceiling, else the task's own."""
    named = list(dict.fromkeys([*gates.min, *gates.max]))
    return named or [DEFAULT_METRIC.get(task, "accuracy")]


def beat_champion_verdict(comparison: Comparison, gates: GatesConfig) -> GateResult:
    """The verdict under `beat_champion`: every gate but the floors and ceilings, and in
    their place whether the candidate beats the champion (`beat_champion`)."""
    rest = decide(comparison, gates.model_copy(update={"min": {}, "max": {}}))
    return GateResult(checks=[*rest.checks, *beat_champion(comparison, gates)])


def beat_champion(comparison: Comparison, gates: GatesConfig) -> list[GateCheck]:
    """One check per metric of `floor_metrics`: does the candidate beat the champion?"""
    return [
        _beats(comparison, comparison.metrics.get(metric), metric, gates.rule)
        for metric in floor_metrics(gates, comparison.task)
    ]


def _signed(value: float) -> str:
    """`value` with its sign, never `-0.0000`, and not printed as zero unless it is."""
    text = f"{value:+.4f}"
    if float(text) != 0:
        return text
    return "0.0000" if value == 0 else f"{value:+.2e}"


def _beats(
    comparison: Comparison, entry: MetricComparison | None, metric: str, rule: str
) -> GateCheck:
    rows = comparison.test_samples
    loss = loss_of(entry) if entry is not None else None
    if loss is None:
        return GateCheck.unmeasured(
            metric,
            "regression",
            0.0,
            f"{metric}: cannot tell whether the retrained model beats the champion on the "
            f"{rows} held-out recent rows: the metric is undefined for one of them there "
            "(monitor.retrain_gate: beat_champion)",
        )
    gain = -loss.point
    interval = (loss.low, loss.high) if loss.low is not None and loss.high is not None else None
    judged, value = _JUDGED["point"], gain
    if interval is not None and rule == "non_inferiority":
        judged, value = _JUDGED[rule], -interval[1]
    elif interval is not None and rule == "significant_regression":
        judged, value = _JUDGED[rule], -interval[0]
    passed = value > 0
    figures = []
    if interval is not None:
        share = f", {entry.confidence:.0%}" if entry is not None and entry.confidence else ""
        figures.append(f"interval {_signed(-interval[1])} to {_signed(-interval[0])}{share}")
    if entry is not None and entry.p_value is not None:
        figures.append(f"McNemar p {entry.p_value:.3g}")
    shown = f" ({'; '.join(figures)})" if figures else ""
    return GateCheck(
        metric=metric,
        kind="regression",
        bound=0.0,
        value=loss.point,
        passed=passed,
        reason=f"{metric}: gain over the champion {_signed(gain)} on the {rows} held-out "
        f"recent rows{shown}; {judged} {_signed(value)} "
        f"{'above' if passed else 'not above'} 0, {rule} rule: "
        f"{'beats' if passed else 'does not beat'} the champion "
        "(monitor.retrain_gate: beat_champion)",
        interval=interval,
    )
