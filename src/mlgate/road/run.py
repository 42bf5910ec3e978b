"""The road in one function: validate → train → evaluate → gate → register, every output on disk.

`run` calls the stages in order; each stage takes what the one before produced
and returns what the next needs. Config mistakes (estimator, params, gate names)
are refused before any data is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config.models import PipelineConfig
from mlgate.config.settings import load_settings
from mlgate.data.validate import ValidationReport
from mlgate.errors import ConfigError, DataError
from mlgate.evaluation.evaluate import EvaluationResult
from mlgate.gates.absolute import GateCheck, GateResult, check_gate_metrics, gate_absolute
from mlgate.gates.compare import Comparison
from mlgate.registry.bundle import TEST_SET, ModelCard
from mlgate.registry.onnx import OnnxExport
from mlgate.results import RunResult
from mlgate.road._data import (
    Prepared,
    disclosure,
    dropped_warnings,
    identifier_warnings,
    prepare,
    read,
    validate_data,
    violations,
)
from mlgate.road._fit import (
    Fitted,
    check_loadable,
    code_files,
    fit_and_evaluate,
    onnx_warning,
    save,
)
from mlgate.training.chatter import quiet_libraries
from mlgate.training.estimator import resolve_estimator
from mlgate.training.task import estimator_task

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.project import Project

__all__ = ["default_output", "run"]

Progress = Callable[[str], None]
#: A caller's verdict on the comparison with the champion, in place of the config's gates
#: (the monitor's retrain gate); registered with the version as any verdict.
Judge = Callable[[Comparison], GateResult]


def default_output(config: PipelineConfig, run_id: str) -> Path:
    """Where a run writes when no folder is given: `.mlgate/runs/<name>/<run_id>`."""
    return config.base_dir / ".mlgate" / "runs" / config.name / run_id


def run(
    config: PipelineConfig,
    *,
    output: Path | None = None,
    apply_gates: bool = True,
    register: bool = False,
    progress: Progress | None = None,
    project: Project | None = None,
    judge: Judge | None = None,
) -> RunResult:
    """Validate, train, evaluate and gate the model `config` describes; write every output.

    With `register`, the gates include those against the registered champion, and
    the version is registered with its verdict (see `mlgate.road.release`), in
    `project`'s registry (opened from `config` when not given); `judge`, when given,
    decides the verdict on the comparison with the champion instead. Warnings the
    estimator raises are kept in the result, not printed.
    """
    with quiet_libraries():
        return _run(config, output, apply_gates, register, progress, project, judge)


def _run(
    config: PipelineConfig,
    output: Path | None,
    apply_gates: bool,
    register: bool,
    progress: Progress | None,
    project: Project | None,
    judge: Judge | None,
) -> RunResult:
    say = progress or (lambda _message: None)
    if register:  # before any training: a registry that would be thrown away is refused
        (project.settings if project else load_settings()).check_registry_for_writing()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    estimator = resolve_estimator(
        config.model, seed=config.seed, file=config.source, project=config.base_dir
    )
    code_files(config)  # a missing file stops the run before any training
    if apply_gates:
        known = estimator_task(estimator) if config.task == "auto" else config.task
        check_gate_metrics(config.gates, known, file=config.source)
    out = output or default_output(config, run_id)
    _output(out)
    say("reading data")
    data = read(config)
    base: dict[str, Any] = {"name": config.name, "run_id": run_id, "output_dir": str(out)}
    base |= {"target": config.data.target, "lineage": data.lineage, "dropped_rows": data.dropped}
    with disclosure(config, data):  # messages quote no data file outside the project
        say("validating data")
        schema, reports, files = validate_data(config, data, out)
        if not all(r.passed for r in reports.values()):
            reasons = violations(reports)
            failed = RunResult(
                **base, passed=False, stage="validate", reasons=reasons, validation=reports
            )
            return _write(failed, out, files)
        prepared = prepare(config, estimator, data, schema, apply_gates)
        identifiers = identifier_warnings(prepared)
        fitted = fit_and_evaluate(config, estimator, prepared, say)
        fitted.warnings[:0] = identifiers
    card, exported = save(config, prepared, fitted, out, say)
    verdicts = _Verdicts(apply_gates)
    if apply_gates:
        say("loading it back as the gateway will")
        verdicts.add(check_loadable(out, fitted, prepared))
    if not register:
        if apply_gates:
            # Said, not silent: the gates against the champion were not applied.
            fitted.warnings.append(
                "not compared with the champion: a run that registers nothing reads no "
                f"registry. Compare with `mlgate compare --baseline {config.name}@champion "
                f"--candidate {out}`, or run without --no-register"
            )
        return _finish(
            config, base, reports, prepared, fitted, card, exported, verdicts, out, files
        )
    from mlgate.project import Project
    from mlgate.road.compare import latency_check
    from mlgate.road.release import register_run

    owner = project or Project.open(config)
    try:
        if apply_gates and not verdicts.failed:  # an unloadable candidate is not compared
            found = _compare(owner, out, prepared.test, say)
            if judge is not None and isinstance(found, Comparison):
                found.verdict = judge(found)
            verdicts.add(found)
            if verdicts.comparison is not None:
                verdicts.also(latency_check(owner, out, prepared.test))
        result = _finish(
            config, base, reports, prepared, fitted, card, exported, verdicts, out, files
        )
        say("registering the version")
        result.registration = register_run(owner, result)
        return _write(result, out, files)
    finally:
        if project is None:
            owner.close()


def _output(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the output folder {str(out)!r} ({e.strerror or e}).",
            fix="Pass -o/--output with a folder you can write to.",
        ) from e


def _compare(
    project: Project, out: Path, test: pd.DataFrame, say: Progress
) -> Comparison | GateCheck | None:
    """The candidate against the registered champion; a failed check when they cannot be
    compared row by row (a new label set or target), None when there is no champion."""
    from mlgate.road.compare import compare_with_champion

    say("comparing with the champion")
    try:
        return compare_with_champion(project, out, test)
    except DataError as e:
        # A new label set or target: registered as failed with the reason, so a person
        # can review and promote it. A champion that fails its checks stops the run.
        return GateCheck(
            metric="champion",
            kind="regression",
            bound=0.0,
            value=None,
            passed=False,
            reason=f"cannot compare with the champion: {e.problem}"
            + (f" {e.fix}" if e.fix else ""),
        )


def _finish(
    config: PipelineConfig,
    base: dict[str, Any],
    reports: dict[str, ValidationReport],
    prepared: Prepared,
    fitted: Fitted,
    card: ModelCard,
    exported: OnnxExport,
    verdicts: _Verdicts,
    out: Path,
    files: dict[str, str],
) -> RunResult:
    """The verdict of every gate, and the result written with its outputs."""
    comparison = verdicts.comparison
    gates = _verdict(config, fitted.evaluation, verdicts)
    passed = gates is None or gates.passed
    result = RunResult(
        **base,
        passed=passed,
        stage="done" if passed else "gate",
        reasons=[c.reason for c in gates.failures] if gates else [],
        task=prepared.task,
        features=prepared.features,
        validation=reports,
        cross_validation=fitted.folds,
        metrics=fitted.evaluation.metrics,
        evaluation=fitted.evaluation,
        gates=gates,
        training_time_s=fitted.seconds,
        model=card.artifact,
        onnx=exported,
        warnings=dropped_warnings(base["dropped_rows"], config.data.target)
        + fitted.warnings
        + onnx_warning(exported),
        comparison=comparison,
    )
    files |= {"model": str(out / card.artifact.path), "card": str(out / "model.json")}
    files |= {"test_set": str(out / TEST_SET)}
    if exported.artifact is not None:
        files["onnx"] = str(out / exported.artifact.path)
    if comparison is not None:
        files |= _write_comparison(comparison, out)
    return _write(result, out, files)


@dataclass
class _Verdicts:
    """What the gates judge besides the metrics: the comparison with the champion, and
    checks failed outside the metric gates (a model that cannot be loaded back, a
    champion that cannot be compared)."""

    apply: bool
    comparison: Comparison | None = None
    failed: list[GateCheck] = field(default_factory=list)
    #: Checks outside the metric gates that may pass (the latency ratio).
    more: list[GateCheck] = field(default_factory=list)

    def add(self, found: Comparison | GateCheck | None) -> None:
        if isinstance(found, Comparison):
            self.comparison = found
        elif found is not None:
            self.failed.append(found)

    def also(self, check: GateCheck | None) -> None:
        if check is not None:
            self.more.append(check)


def _verdict(
    config: PipelineConfig, evaluation: EvaluationResult, verdicts: _Verdicts
) -> GateResult | None:
    """The comparison's verdict when there is one, else the absolute gates (when applied),
    with every check failed outside them."""
    if not verdicts.apply:
        return None
    comparison = verdicts.comparison
    if comparison is not None and comparison.verdict is not None:
        gates = comparison.verdict
    else:
        gates = gate_absolute(evaluation.metrics, config.gates)
    if verdicts.failed or verdicts.more:
        gates = GateResult(checks=[*gates.checks, *verdicts.more, *verdicts.failed])
    return gates


def _write_comparison(comparison: Comparison, out: Path) -> dict[str, str]:
    from mlgate.reporting.comparison import comparison_markdown

    as_json, as_markdown = out / "comparison.json", out / "comparison.md"
    as_json.write_text(comparison.model_dump_json(indent=2), encoding="utf-8")
    as_markdown.write_text(comparison_markdown(comparison), encoding="utf-8")
    return {"comparison": str(as_json), "comparison_report": str(as_markdown)}


def _write(result: RunResult, out: Path, files: dict[str, str]) -> RunResult:
    from mlgate.reporting.markdown import run_summary

    metrics_path = out / "metrics.json"
    run_path = out / "run.json"
    summary_path = out / "summary.md"
    files |= {"metrics": str(metrics_path), "run": str(run_path), "summary": str(summary_path)}
    result.files = files
    metrics_path.write_text(json.dumps(result.metrics, indent=2, sort_keys=True), encoding="utf-8")
    run_path.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    summary_path.write_text(run_summary(result), encoding="utf-8")
    return result
