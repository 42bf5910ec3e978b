"""The road in one function: validate → train → evaluate → gate → register, every output on disk.

`run` calls the stages in order; each stage takes what the one before produced
and returns what the next needs. Config mistakes (estimator, params, gate names)
are refused before any data is read.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config.loader import config_hash
from mlgate.config.models import PipelineConfig
from mlgate.data.fingerprint import fingerprint
from mlgate.data.io import read_arrow
from mlgate.data.schema import Schema, infer_schema, inference_header, load_schema
from mlgate.data.validate import ValidationReport, validate
from mlgate.drift.profile import PROFILE, build_profile
from mlgate.errors import ConfigError, DataError
from mlgate.evaluation.evaluate import EvaluationResult, evaluate_model
from mlgate.gates.absolute import GateCheck, GateResult, check_gate_metrics, gate_absolute
from mlgate.gates.compare import Comparison
from mlgate.lineage import Lineage, git_commit, package_versions
from mlgate.registry.bundle import TEST_SET, ModelCard, save_bundle
from mlgate.registry.onnx import OnnxExport, export_onnx
from mlgate.results import RunResult
from mlgate.road.checks import (
    check_rows,
    check_slices,
    check_text_among_numbers,
    check_usable,
    decide_task,
    feature_columns,
)
from mlgate.training.estimator import resolve_estimator
from mlgate.training.preprocessing import build_model, feature_kinds, prepare_features
from mlgate.training.task import Task, estimator_task
from mlgate.training.train import CrossValidation, check_target, cross_validate, fit, split_holdout

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.project import Project

__all__ = ["default_output", "run"]

Progress = Callable[[str], None]


def default_output(config: PipelineConfig, run_id: str) -> Path:
    """Where a run writes when no folder is given: `.mlgate/runs/<name>/<run_id>`."""
    return config.base_dir / ".mlgate" / "runs" / config.name / run_id


@dataclass
class _Data:
    """The configured data as read, with its lineage."""

    train: pd.DataFrame
    test: pd.DataFrame | None
    train_pl: Any
    test_pl: Any
    lineage: Lineage


@dataclass
class _Prepared:
    """The rows the model is fitted and tested on, and what they are."""

    task: Task
    features: list[str]
    kinds: dict[str, str]
    train: pd.DataFrame
    test: pd.DataFrame
    evaluated_on: str
    X_train: Any
    X_test: Any


@dataclass
class _Fitted:
    """The fitted model and its scores."""

    model: Any
    seconds: float
    folds: list[CrossValidation]
    evaluation: EvaluationResult
    warnings: list[str] = field(default_factory=list)


def run(
    config: PipelineConfig,
    *,
    output: Path | None = None,
    apply_gates: bool = True,
    register: bool = False,
    progress: Progress | None = None,
    project: Project | None = None,
) -> RunResult:
    """Validate, train, evaluate and gate the model `config` describes; write every output.

    With `register`, the gates include those against the registered champion, and
    the version is registered with its verdict (see `mlgate.road.release`), in
    `project`'s registry (opened from `config` when not given). Warnings the
    estimator raises are kept in the result, not printed.
    """
    say = progress or (lambda _message: None)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    estimator = resolve_estimator(config.model, seed=config.seed, file=config.source)
    if apply_gates:
        known = estimator_task(estimator) if config.task == "auto" else config.task
        check_gate_metrics(config.gates, known, file=config.source)
    out = output or default_output(config, run_id)
    _output(out)
    say("reading data")
    data = _read(config)
    base: dict[str, Any] = {"name": config.name, "run_id": run_id, "output_dir": str(out)}
    base |= {"target": config.data.target, "lineage": data.lineage}
    say("validating data")
    schema, reports, files = _validate(config, data, out)
    if not all(r.passed for r in reports.values()):
        failed = RunResult(
            **base, passed=False, stage="validate", reasons=_violations(reports), validation=reports
        )
        return _write(failed, out, files)
    prepared = _prepare(config, estimator, data, schema, apply_gates)
    fitted = _fit(config, estimator, prepared, say)
    card, exported = _save(config, prepared, fitted, out, say)
    if not register:
        return _finish(
            config, base, reports, prepared, fitted, card, exported, None, apply_gates, out, files
        )
    from mlgate.project import Project
    from mlgate.road.release import register_run

    owner = project or Project.open(config)
    try:
        comparison = _compare(owner, out, prepared.test, say) if apply_gates else None
        result = _finish(
            config, base, reports, prepared, fitted, card, exported, comparison, True, out, files
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


def _read(config: PipelineConfig) -> _Data:
    """The train (and test) data, refused when empty, with the lineage of what was read."""
    import polars as pl

    train_source, test_source = config.data.train, config.data.test
    train_arrow = read_arrow(config.resolve(train_source))
    test_arrow = read_arrow(config.resolve(test_source)) if test_source else None
    data = _Data(
        train=train_arrow.to_pandas(),
        test=test_arrow.to_pandas() if test_arrow is not None else None,
        train_pl=pl.from_arrow(train_arrow),
        test_pl=pl.from_arrow(test_arrow) if test_arrow is not None else None,
        lineage=_lineage(config),
    )
    check_rows(data.train, train_source)
    if data.test is not None and test_source:
        check_rows(data.test, test_source)
    return data


def _lineage(config: PipelineConfig) -> Lineage:
    commit, dirty = git_commit(config.base_dir)
    test_source = config.data.test
    return Lineage(
        train_fingerprint=fingerprint(config.resolve(config.data.train)),
        test_fingerprint=fingerprint(config.resolve(test_source)) if test_source else None,
        config_hash=config_hash(config),
        git_commit=commit,
        git_dirty=dirty,
        seed=config.seed,
        packages=package_versions(),
    )


def _validate(
    config: PipelineConfig, data: _Data, out: Path
) -> tuple[Schema, dict[str, ValidationReport], dict[str, str]]:
    """Every data file checked against the schema (the config's, or one inferred and saved)."""
    schema, path = _schema(config, data.train_pl, out)
    reports = {"train": validate(data.train_pl, schema, source=config.data.train)}
    if data.test_pl is not None:
        reports["test"] = validate(data.test_pl, schema, source=config.data.test)
    return schema, reports, {"schema": str(path)}


def _schema(config: PipelineConfig, train: Any, out: Path) -> tuple[Schema, Path]:
    path = out / "schema.yaml"
    if config.schema_file:
        schema = load_schema(config.resolve(config.schema_file))
        schema.save(path, f"Schema used for this run, from {config.schema_file}.")
    else:
        schema = infer_schema(train)
        schema.save(path, inference_header(config.data.train, train.height, train.width))
    return schema, path


def _violations(reports: dict[str, ValidationReport]) -> list[str]:
    return [
        f"{part} data: {v.column + ': ' if v.column else ''}{v.message}"
        for part, report in reports.items()
        for v in report.violations
    ]


def _prepare(
    config: PipelineConfig, estimator: Any, data: _Data, schema: Schema, apply_gates: bool
) -> _Prepared:
    """The task, the features, and the train and test rows, after every check of them."""
    target, train_source = config.data.target, config.data.train
    train, test = data.train, data.test
    check_target(train, target, None, source=train_source)
    task = decide_task(config, estimator, train[target])
    check_target(train, target, task, source=train_source)
    if apply_gates:
        check_gate_metrics(config.gates, task, file=config.source)
    features = feature_columns(config, train, train_source)
    check_usable(train, features, train_source)
    if config.schema_file is None:
        check_text_among_numbers(train, features, train_source)
    if test is None:
        train, test = split_holdout(train, target, config.data.holdout, task, source=train_source)
        evaluated_on = train_source
    else:
        evaluated_on = str(config.data.test)
        check_target(test, target, None, source=evaluated_on)
        missing = [f for f in features if f not in test.columns]
        if missing:
            raise DataError(
                f"test data lacks feature column(s): {', '.join(missing)}.",
                source=config.data.test,
                fix="Give the test file the same columns as the training file.",
            )
    check_slices(config, test, evaluated_on)
    kinds = feature_kinds(train, features, schema)
    X_train = prepare_features(train, kinds, source=train_source)
    X_test = prepare_features(test, kinds, source=evaluated_on)
    return _Prepared(task, features, kinds, train, test, evaluated_on, X_train, X_test)


def _fit(config: PipelineConfig, estimator: Any, prepared: _Prepared, say: Progress) -> _Fitted:
    """Cross-validate, fit and evaluate; warnings are caught and kept, once each."""
    target, task = config.data.target, prepared.task
    model = build_model(estimator, prepared.kinds, config.model.preprocessing)
    y_train, y_test = prepared.train[target], prepared.test[target]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folds = []
        if config.model.cv_folds:
            folds = cross_validate(
                model,
                prepared.X_train,
                y_train,
                task,
                folds=config.model.cv_folds,
                seed=config.seed,
                progress=say,
            )
        say("fitting the model")
        seconds = fit(model, prepared.X_train, y_train)
        say("evaluating on the test set")
        slices = prepared.test[config.evaluation.slices] if config.evaluation.slices else None
        try:
            evaluation = evaluate_model(model, prepared.X_test, y_test, task, slices=slices)
        except DataError as e:
            raise DataError(e.problem, source=prepared.evaluated_on, fix=e.fix) from e
    return _Fitted(model, seconds, folds, evaluation, _unique_warnings(caught))


def _save(
    config: PipelineConfig, prepared: _Prepared, fitted: _Fitted, out: Path, say: Progress
) -> tuple[ModelCard, OnnxExport]:
    """The ONNX export, the test set, the reference profile and the verified bundle."""
    model, task, target = fitted.model, prepared.task, config.data.target
    say("exporting to ONNX")
    exported = export_onnx(model, prepared.kinds, task, prepared.X_test, out / "model.onnx")
    prepared.test.to_parquet(out / TEST_SET, index=False)
    say("profiling the reference data for drift")
    build_profile(
        prepared.train,
        prepared.kinds,
        predictions=model.predict(prepared.X_test),
        prediction_kind="numeric" if task == "regression" else "categorical",
        labels=prepared.test[target].to_numpy(),
    ).save(out / PROFILE)
    classes = getattr(model, "classes_", None)
    card = save_bundle(
        model,
        out,
        {
            "name": config.name,
            "task": task,
            "target": target,
            "features": prepared.features,
            "kinds": prepared.kinds,
            "classes": [c.item() if hasattr(c, "item") else c for c in classes]
            if classes is not None
            else None,
            "onnx": exported.artifact,
            "onnx_note": exported.reason,
        },
    )
    return card, exported


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
        # Registered as failed with the reason, so a person can review and promote it.
        return GateCheck(
            metric="champion",
            kind="regression",
            bound=0.0,
            value=None,
            passed=False,
            reason=f"cannot compare with the champion: {e.problem}",
        )


def _finish(
    config: PipelineConfig,
    base: dict[str, Any],
    reports: dict[str, ValidationReport],
    prepared: _Prepared,
    fitted: _Fitted,
    card: ModelCard,
    exported: OnnxExport,
    compared: Comparison | GateCheck | None,
    apply_gates: bool,
    out: Path,
    files: dict[str, str],
) -> RunResult:
    """The verdict of every gate, and the result written with its outputs."""
    comparison = compared if isinstance(compared, Comparison) else None
    gates = _verdict(config, fitted.evaluation, compared, apply_gates)
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
        warnings=fitted.warnings + _onnx_warning(exported),
        comparison=comparison,
    )
    files |= {"model": str(out / card.artifact.path), "card": str(out / "model.json")}
    files |= {"test_set": str(out / TEST_SET)}
    if exported.artifact is not None:
        files["onnx"] = str(out / exported.artifact.path)
    if comparison is not None:
        files |= _write_comparison(comparison, out)
    return _write(result, out, files)


def _verdict(
    config: PipelineConfig,
    evaluation: EvaluationResult,
    compared: Comparison | GateCheck | None,
    apply_gates: bool,
) -> GateResult | None:
    """The comparison's verdict when there is one, else the absolute gates (when applied),
    with the failed check of a champion that could not be compared."""
    if isinstance(compared, Comparison) and compared.verdict is not None:
        return compared.verdict
    if not apply_gates:
        return None
    gates = gate_absolute(evaluation.metrics, config.gates)
    if isinstance(compared, GateCheck):
        gates = GateResult(checks=[*gates.checks, compared])
    return gates


def _onnx_warning(exported: OnnxExport) -> list[str]:
    if exported.artifact is not None or not exported.reason:
        return []
    return [
        f"no ONNX export ({exported.reason}): the gateway will serve this version "
        "with scikit-learn, far slower than the ONNX fast path, and a rollout "
        "compares its latency with the champion's"
    ]


def _write_comparison(comparison: Comparison, out: Path) -> dict[str, str]:
    from mlgate.reporting.comparison import comparison_markdown

    as_json, as_markdown = out / "comparison.json", out / "comparison.md"
    as_json.write_text(comparison.model_dump_json(indent=2), encoding="utf-8")
    as_markdown.write_text(comparison_markdown(comparison), encoding="utf-8")
    return {"comparison": str(as_json), "comparison_report": str(as_markdown)}


def _unique_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Each distinct warning once, on one line, with its category."""
    seen: dict[str, None] = {}
    for item in caught:
        text = " ".join(str(item.message).split())
        seen.setdefault(f"{item.category.__name__}: {text}", None)
    return list(seen)


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
