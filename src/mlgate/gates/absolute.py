"""Absolute gates: each metric against its configured floor or ceiling."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from mlgate.config.models import GatesConfig
from mlgate.errors import ConfigError
from mlgate.evaluation.metrics import available_metrics

__all__ = ["GateCheck", "GateResult", "check_gate_metrics", "gate_absolute"]


class GateCheck(BaseModel):
    """One bound on one metric and whether the candidate met it."""

    metric: str
    kind: Literal[
        "min", "max", "regression", "relative_regression", "slice_regression", "latency_ratio"
    ]
    bound: float = Field(description="The floor, ceiling or largest allowed loss.")
    value: float | None = Field(description="The metric, or the loss against the champion.")
    passed: bool
    reason: str
    interval: tuple[float, float] | None = Field(
        None, description="Paired interval of the loss against the champion."
    )
    slice: str | None = Field(None, description="column=value, for a slice check.")

    @classmethod
    def unmeasured(
        cls, metric: str, kind: str, bound: float, reason: str, *, slice: str | None = None
    ) -> GateCheck:
        """A failed check on a metric with no value to judge, saying why there is none."""
        return cls(
            metric=metric,
            kind=kind,
            bound=bound,
            value=None,
            passed=False,
            reason=reason,
            slice=slice,
        )


class GateResult(BaseModel):
    """The verdict of every gate, with every reason, not only the first failure."""

    checks: list[GateCheck] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when every check passed (and when there are none)."""
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[GateCheck]:
        """The checks that did not pass."""
        return [check for check in self.checks if not check.passed]


def _tasks_of(name: str) -> list[str]:
    return [task for task in ("classification", "regression") if name in available_metrics(task)]


def check_gate_metrics(gates: GatesConfig, task: str | None, *, file: Path | None = None) -> None:
    """Refuse, before any training, gates on metrics that `task` does not have.

    With `task` None (not known yet) only names that no task has are refused.
    """
    named = (
        ("min", gates.min),
        ("max", gates.max),
        ("max_regression", gates.max_regression),
        ("max_relative_regression", gates.max_relative_regression),
    )
    _refuse_percentages(named, file)
    for kind, bounds in named:
        for name in bounds:
            owners = _tasks_of(name)
            if task is None and owners:
                continue
            if task is not None and task in owners:
                continue
            if task:
                choices = available_metrics(task)
                allowed = ", ".join(choices)
            else:
                per_task = {t: available_metrics(t) for t in ("classification", "regression")}
                choices = [name for names in per_task.values() for name in names]
                allowed = "; ".join(f"{t}: {', '.join(n)}" for t, n in per_task.items())
            fix: str | None
            if owners:
                problem = f"{name} is a {owners[0]} metric, but this is a {task} task."
                fix = "Gate on one of those, or set task: to match the model."
            else:
                problem = f"unknown {task + ' ' if task else ''}metric {name!r}."
                close = difflib.get_close_matches(name, choices, n=1)
                fix = f"Did you mean {close[0]}?" if close else None
            raise ConfigError(
                problem,
                file=file,
                field=f"gates.{kind}.{name}",
                allowed=allowed,
                fix=fix,
                show_value=False,
            )


def _refuse_percentages(named: tuple[tuple[str, dict[str, float]], ...], file: Path | None) -> None:
    """Refuse a bound no value of its metric can reach past, e.g. accuracy 80 for 0.80."""
    from mlgate.evaluation.metrics import get_metric

    for kind, bounds in named:
        if kind == "max_relative_regression":
            continue
        for name, bound in bounds.items():
            tops = [get_metric(name, t).at_most for t in _tasks_of(name)]
            top = next((t for t in tops if t is not None), None)
            if top is not None and bound > top:
                raise ConfigError(
                    f"{name} is at most {top:g}, so a bound of {bound:g} "
                    f"{'can never be met' if kind == 'min' else 'allows anything'}.",
                    file=file,
                    field=f"gates.{kind}.{name}",
                    fix=f"Write it as a share: {bound / 100:g} for {bound:g}%.",
                    show_value=False,
                )


def _shown(value: float, bound: float) -> str:
    """`value` with enough digits that it does not print equal to a bound it missed."""
    for digits in (4, 6, 8, 10):
        text = f"{value:.{digits}f}"
        if float(text) != bound or value == bound:
            return text
    return repr(value)


def _missing_reason(name: str, metrics: dict[str, float | None]) -> str:
    if name not in metrics:
        return (
            f"{name} was not computed: it needs predicted probabilities, "
            "and this model has no predict_proba"
        )
    return f"{name} is undefined on this test set (e.g. a class the metric needs has no rows there)"


def gate_absolute(metrics: dict[str, float | None], gates: GatesConfig) -> GateResult:
    """Each configured bound checked against the metrics; every failure keeps its reason."""
    checks: list[GateCheck] = []
    for kind, bounds in (("min", gates.min), ("max", gates.max)):
        for name, bound in bounds.items():
            value = metrics.get(name)
            if value is None:
                checks.append(
                    GateCheck.unmeasured(name, kind, bound, _missing_reason(name, metrics))
                )
                continue
            passed = value >= bound if kind == "min" else value <= bound
            sign = (">=" if passed else "<") if kind == "min" else ("<=" if passed else ">")
            checks.append(
                GateCheck(
                    metric=name,
                    kind=kind,
                    bound=bound,
                    value=value,
                    passed=passed,
                    reason=f"{name} {_shown(value, bound)} {sign} {kind} {bound:g}",
                )
            )
    return GateResult(checks=checks)
