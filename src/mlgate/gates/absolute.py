"""Absolute gates: each metric against its configured floor or ceiling."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from mlgate.config.models import GatesConfig
from mlgate.errors import ConfigError
from mlgate.evaluation.metrics import available_metrics, get_metric

__all__ = ["GateCheck", "GateResult", "check_gate_metrics", "gate_absolute"]


class GateCheck(BaseModel):
    """One bound on one metric and whether the candidate met it."""

    metric: str
    kind: Literal["min", "max"]
    bound: float
    value: float | None
    passed: bool
    reason: str


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


def check_gate_metrics(gates: GatesConfig, task: str, *, file: Path | None = None) -> None:
    """Refuse, before any training, gates on metrics that `task` does not have."""
    for kind, bounds in (("min", gates.min), ("max", gates.max)):
        for name in bounds:
            try:
                get_metric(name, task)
            except ConfigError as e:
                raise ConfigError(
                    f"unknown {task} metric",
                    file=file,
                    field=f"gates.{kind}.{name}",
                    allowed=", ".join(available_metrics(task)),
                    show_value=False,
                ) from e


def gate_absolute(metrics: dict[str, float | None], gates: GatesConfig) -> GateResult:
    """Each configured bound checked against the metrics."""
    checks: list[GateCheck] = []
    for kind, bounds in (("min", gates.min), ("max", gates.max)):
        for name, bound in bounds.items():
            value = metrics.get(name)
            if value is None:
                checks.append(
                    GateCheck(
                        metric=name,
                        kind=kind,
                        bound=bound,
                        value=None,
                        passed=False,
                        reason=f"{name} could not be computed for this model "
                        "(it needs predicted probabilities or more than one class)",
                    )
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
                    reason=f"{name} {value:.4f} {sign} {kind} {bound:g}",
                )
            )
    return GateResult(checks=checks)
