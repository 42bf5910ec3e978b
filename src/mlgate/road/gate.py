"""Judging a saved comparison, or a run's metrics file, by flags or the config's gates.

`mlgate gate` calls `gate_comparison_file`. A comparison (`mlgate compare -o`)
is decided as a run decides its own; a run's `metrics.json` has no baseline, so
only absolute floors and ceilings judge it. A flag's threshold on a metric the
file's task does not have is refused, naming the ones it has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from mlgate.config.models import GatesConfig
from mlgate.errors import ConfigError
from mlgate.gates.absolute import GateResult, check_gate_metrics, gate_absolute
from mlgate.gates.compare import Comparison
from mlgate.gates.decide import decide
from mlgate.road.compare import with_rule

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["gate_comparison_file"]


def gate_comparison_file(
    project: Project,
    path: Path,
    *,
    min_accuracy: float | None = None,
    max_regression: float | None = None,
    rule: str | None = None,
    floors: dict[str, float] | None = None,
    ceilings: dict[str, float] | None = None,
) -> GateResult:
    """The verdict on a saved comparison: the flags' thresholds, else the config's gates.

    A run's `metrics.json` (or `run.json`) has no baseline: it is judged by the absolute
    floors and ceilings alone (--min-accuracy, --min/--max NAME=VALUE, gates.min,
    gates.max). `floors` and `ceilings` are any metric's, by name.
    """
    floors, ceilings = dict(floors or {}), dict(ceilings or {})
    if min_accuracy is not None:
        floors["accuracy"] = min_accuracy
    if not path.is_file():
        raise ConfigError(
            "comparison file not found.",
            file=path,
            fix="Write one with mlgate compare -o, or pass a run's metrics.json.",
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"cannot read it as JSON ({e}).",
            file=path,
            fix="Pass the comparison.json of mlgate compare -o or a run's metrics.json.",
        ) from e
    metrics = _run_metrics(document)
    if metrics is not None:
        return _gate_metrics(project, path, metrics, floors, ceilings, max_regression)
    try:
        comparison = Comparison.model_validate(document)
    except ValidationError as e:
        raise ConfigError(
            "not a comparison file written by `mlgate compare -o`, nor a run's metrics.json.",
            file=path,
            fix="Pass the comparison.json that mlgate compare wrote, or a run's metrics.json.",
        ) from e
    if (min_accuracy is not None or max_regression is not None) and (
        "accuracy" not in comparison.metrics
    ):
        raise ConfigError(
            f"--min-accuracy and --max-regression judge accuracy, and this {comparison.task} "
            "comparison has none.",
            file=path,
            fix="Judge it with --min/--max NAME=VALUE on its own metrics (e.g. --min r2=0.8 "
            "--max rmse=3), or by the config's gates (drop the flags).",
        )
    if floors or ceilings or max_regression is not None:
        gates = GatesConfig(
            min=floors,
            max=ceilings,
            max_regression={"accuracy": max_regression} if max_regression is not None else {},
        )
        _check_flags(gates, comparison.task, path)
    else:
        gates = project.config.gates if project.has_config else GatesConfig()
    return decide(comparison, with_rule(gates, rule))


def _run_metrics(document: object) -> dict[str, float | None] | None:
    """The metrics of a run's metrics.json (name → number) or run.json; None otherwise."""
    if isinstance(document, dict) and "run_id" in document and "metrics" in document:
        document = document["metrics"]
    if not isinstance(document, dict) or not document or "task" in document:
        return None
    if not all(
        (isinstance(v, int | float) and not isinstance(v, bool)) or v is None
        for v in document.values()
    ):
        return None
    return {str(k): None if v is None else float(v) for k, v in document.items()}


def _gate_metrics(
    project: Project,
    path: Path,
    metrics: dict[str, float | None],
    floors: dict[str, float],
    ceilings: dict[str, float],
    max_regression: float | None,
) -> GateResult:
    """A run's metrics against the absolute floors and ceilings, on the metrics of its task."""
    if max_regression is not None:
        raise ConfigError(
            "--max-regression needs a baseline, and a run's metrics file has none.",
            file=path,
            fix="Compare with the champion first (mlgate compare -o comparison.json) and gate "
            "that file; or judge this one with --min-accuracy.",
        )
    task = _metrics_task(metrics)
    if floors or ceilings:
        gates = GatesConfig(min=floors, max=ceilings)
        _check_flags(gates, task, path)
    elif project.has_config:
        configured = project.config.gates
        gates = GatesConfig(min=configured.min, max=configured.max)
        check_gate_metrics(gates, task, file=project.config.source)
    else:
        gates = GatesConfig()
    if not gates.min and not gates.max:
        raise ConfigError(
            "a run's metrics file is judged by absolute floors and ceilings, and none is set.",
            file=path,
            fix="Pass --min-accuracy or --min/--max NAME=VALUE (e.g. --min r2=0.8), or set "
            "gates.min / gates.max in mlgate.yaml.",
        )
    return gate_absolute(metrics, gates)


def _check_flags(gates: GatesConfig, task: str | None, path: Path) -> None:
    """Refuse a flag's threshold on a metric the file's task does not have."""
    import difflib

    from mlgate.evaluation.metrics import available_metrics

    if task is None:
        return
    choices = available_metrics(task)
    flagged = [
        ("--min-accuracy" if kind == "min" and name == "accuracy" else f"--{kind}", name)
        for kind, bounds in (("min", gates.min), ("max", gates.max))
        for name in bounds
    ] + [("--max-regression", name) for name in gates.max_regression]
    for flag, name in flagged:
        if name not in choices:
            close = difflib.get_close_matches(name, choices, n=1)
            raise ConfigError(
                f"{flag}: this file holds a {task} model's metrics, which have no {name!r}.",
                file=path,
                allowed=", ".join(choices),
                fix=f"Did you mean {close[0]}?"
                if close
                else "Judge one of those with --min/--max NAME=VALUE "
                f"(e.g. --min {choices[-1]}=0.8).",
                show_value=False,
            )


def _metrics_task(metrics: dict[str, float | None]) -> str | None:
    """The task whose metrics a run's metrics file holds (a regressor's have no accuracy)."""
    from mlgate.evaluation.metrics import available_metrics

    for task in ("classification", "regression"):
        if metrics.keys() & set(available_metrics(task)):
            return task
    return None
