"""The road in one function: validate → train → evaluate → gate, with every output on disk."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from mlgate.config.loader import config_hash
from mlgate.config.models import PipelineConfig
from mlgate.data.fingerprint import fingerprint
from mlgate.data.io import read_arrow, read_pandas
from mlgate.data.schema import Schema, infer_schema, inference_header, load_schema
from mlgate.data.validate import ValidationReport, validate
from mlgate.drift.profile import PROFILE, build_profile
from mlgate.errors import ConfigError, DataError
from mlgate.evaluation.evaluate import EvaluationResult, evaluate_model
from mlgate.gates.absolute import GateCheck, GateResult, check_gate_metrics, gate_absolute
from mlgate.gates.compare import Comparison
from mlgate.lineage import Lineage, git_commit, package_versions
from mlgate.registry.artifacts import ArtifactInfo
from mlgate.registry.bundle import TEST_SET, ModelCard, load_bundle, save_bundle
from mlgate.registry.catalog import Catalog
from mlgate.registry.onnx import export_onnx
from mlgate.release import Registration, compare_with_champion, register_run
from mlgate.training.estimator import resolve_estimator
from mlgate.training.preprocessing import build_model, feature_kinds, prepare_features
from mlgate.training.task import Task, estimator_task, infer_task
from mlgate.training.train import (
    CrossValidation,
    check_target,
    cross_validate,
    fit,
    split_holdout,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "default_output", "evaluate_saved", "run"]

Progress = Callable[[str], None]


class RunResult(BaseModel):
    """Everything one trip down the road produced, and its verdict."""

    name: str
    run_id: str
    output_dir: str
    passed: bool
    stage: Literal["validate", "gate", "done"] = Field(
        description="Where the road stopped: 'validate' or 'gate' on failure, else 'done'."
    )
    reasons: list[str] = Field(default_factory=list, description="Why it did not pass.")
    task: Task | None = None
    target: str
    features: list[str] = Field(default_factory=list)
    validation: dict[str, ValidationReport]
    cross_validation: list[CrossValidation] = Field(default_factory=list)
    metrics: dict[str, float | None] = Field(default_factory=dict)
    evaluation: EvaluationResult | None = None
    gates: GateResult | None = None
    training_time_s: float | None = None
    model: ArtifactInfo | None = None
    warnings: list[str] = Field(
        default_factory=list, description="Warnings raised while fitting and scoring, once each."
    )
    lineage: Lineage
    files: dict[str, str] = Field(default_factory=dict, description="What was written, by role.")
    comparison: Comparison | None = Field(
        None, description="The candidate against the champion, when there is one."
    )
    registration: Registration | None = Field(
        None, description="Where the version landed in the registry, when registered."
    )


def default_output(config: PipelineConfig, run_id: str) -> Path:
    """Where a run writes when no folder is given: `.mlgate/runs/<name>/<run_id>`."""
    return config.base_dir / ".mlgate" / "runs" / config.name / run_id


def _load(config: PipelineConfig) -> tuple[pd.DataFrame, pd.DataFrame | None, Any, Any]:
    import polars as pl

    train_arrow = read_arrow(config.resolve(config.data.train))
    test_arrow = read_arrow(config.resolve(config.data.test)) if config.data.test else None
    train_pl = pl.from_arrow(train_arrow)
    test_pl = pl.from_arrow(test_arrow) if test_arrow is not None else None
    return (
        train_arrow.to_pandas(),
        test_arrow.to_pandas() if test_arrow is not None else None,
        train_pl,
        test_pl,
    )


def _features(config: PipelineConfig, frame: pd.DataFrame, source: str) -> list[str]:
    target, drop = config.data.target, set(config.data.drop)
    if config.data.features is not None:
        missing = [f for f in config.data.features if f not in frame.columns]
        if missing:
            raise DataError(
                f"data.features names column(s) that are not in the data: {', '.join(missing)}.",
                source=source,
                fix=f"Columns there: {', '.join(map(str, frame.columns))}.",
            )
        features = [f for f in config.data.features if f != target and f not in drop]
    else:
        features = [str(c) for c in frame.columns if c != target and c not in drop]
    if not features:
        raise DataError(
            "no feature columns are left besides the target.",
            source=source,
            fix="Check data.features and data.drop.",
        )
    return features


def _check_rows(
    frame: pd.DataFrame,
    source: str,
    fix: str = "Point data.train / data.test at a file with labelled rows.",
) -> None:
    if frame.empty:
        raise DataError(
            f"the data has a header ({frame.shape[1]} column(s)) but no rows.",
            source=source,
            fix=fix,
        )


def _check_usable(frame: pd.DataFrame, features: list[str], source: str) -> None:
    empty = [f for f in features if frame[f].isna().all()]
    if empty:
        raise DataError(
            f"feature column(s) with no values at all, missing in every one of the "
            f"{len(frame)} rows: {', '.join(empty)}.",
            source=source,
            fix="Fill them, or list them under data.drop.",
        )


#: Share of a text column's values that must be numbers for the rest to look like typos.
MOSTLY_NUMBERS = 0.9


def _check_text_among_numbers(frame: pd.DataFrame, features: list[str], source: str) -> None:
    """Refuse text columns that are numbers but for a few values (no schema says otherwise).

    Without a schema, one typo such as 'oops' in a column of numbers makes the
    inferred dtype text, and the model would one-hot encode every distinct number.
    """
    import pandas as pd

    found = []
    for name in features:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna()]
        if len(values) and 0 < len(bad) <= (1 - MOSTLY_NUMBERS) * len(values):
            shown = ", ".join(repr(v) for v in bad.unique()[:3])
            found.append(f"{name!r} ({len(bad)} of {len(values)} values, e.g. {shown})")
    if found:
        raise DataError(
            "column(s) of numbers with a few values that are not numbers, which would make "
            f"them categories: {'; '.join(found)}.",
            source=source,
            fix="Fix or blank those values; or, if the column is text, give the config a schema "
            "(`mlgate schema infer`) that says dtype: string.",
        )


def _check_slices(config: PipelineConfig, frame: pd.DataFrame, source: str) -> None:
    missing = [c for c in config.evaluation.slices if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"slice column(s) not in the data of {source}: {', '.join(missing)}.",
            file=config.source,
            field="evaluation.slices",
            allowed=", ".join(map(str, frame.columns)),
            show_value=False,
        )


def _task(config: PipelineConfig, estimator: Any, target: pd.Series) -> Task:
    """The task: as configured, else as the estimator declares, else from the labels."""
    declared = estimator_task(estimator)
    if config.task == "auto":
        return declared or infer_task(target)
    if declared is not None and declared != config.task:
        kind = "classifier" if declared == "classification" else "regressor"
        raise ConfigError(
            f"{config.model.estimator} is a {kind}, but the config says task: {config.task}.",
            file=config.source,
            field="task",
            fix=f"Set task: {declared} (or auto), or choose a "
            f"{'regressor' if kind == 'classifier' else 'classifier'}.",
        )
    return config.task


def _schema(config: PipelineConfig, train: Any, out: Path) -> tuple[Schema, Path]:
    path = out / "schema.yaml"
    if config.schema_file:
        schema = load_schema(config.resolve(config.schema_file))
        schema.save(path, f"Schema used for this run, from {config.schema_file}.")
    else:
        schema = infer_schema(train)
        schema.save(path, inference_header(config.data.train, train.height, train.width))
    return schema, path


def _output(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the output folder {str(out)!r} ({e.strerror or e}).",
            fix="Pass -o/--output with a folder you can write to.",
        ) from e


def run(
    config: PipelineConfig,
    *,
    output: Path | None = None,
    apply_gates: bool = True,
    register: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Validate, train, evaluate and gate the model `config` describes; write every output.

    With `register`, the gates include those against the registered champion, and
    the version is registered with its verdict (see `mlgate.release`).
    Config mistakes (estimator, params, gate names) are refused before any data is
    read; warnings the estimator raises are kept in the result, not printed.
    """
    say = progress or (lambda _message: None)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = config.data.target
    estimator = resolve_estimator(config.model, seed=config.seed, file=config.source)
    if apply_gates:
        known = estimator_task(estimator) if config.task == "auto" else config.task
        check_gate_metrics(config.gates, known, file=config.source)
    out = output or default_output(config, run_id)
    _output(out)
    train_source = config.data.train
    test_source = config.data.test

    say("reading data")
    train_df, test_df, train_pl, test_pl = _load(config)
    _check_rows(train_df, train_source)
    if test_df is not None and test_source:
        _check_rows(test_df, test_source)
    commit, dirty = git_commit(config.base_dir)
    lineage = Lineage(
        train_fingerprint=fingerprint(config.resolve(train_source)),
        test_fingerprint=fingerprint(config.resolve(test_source)) if test_source else None,
        config_hash=config_hash(config),
        git_commit=commit,
        git_dirty=dirty,
        seed=config.seed,
        packages=package_versions(),
    )
    base: dict[str, Any] = {"name": config.name, "run_id": run_id, "output_dir": str(out)}
    base |= {"target": target, "lineage": lineage}

    say("validating data")
    schema, schema_path = _schema(config, train_pl, out)
    reports = {"train": validate(train_pl, schema, source=train_source)}
    if test_pl is not None:
        reports["test"] = validate(test_pl, schema, source=test_source)
    files = {"schema": str(schema_path)}
    if not all(r.passed for r in reports.values()):
        reasons = [
            f"{part} data: {v.column + ': ' if v.column else ''}{v.message}"
            for part, report in reports.items()
            for v in report.violations
        ]
        result = RunResult(
            **base, passed=False, stage="validate", reasons=reasons, validation=reports
        )
        return _write(result, out, files)

    check_target(train_df, target, None, source=train_source)
    task = _task(config, estimator, train_df[target])
    check_target(train_df, target, task, source=train_source)
    if apply_gates:
        check_gate_metrics(config.gates, task, file=config.source)
    features = _features(config, train_df, train_source)
    _check_usable(train_df, features, train_source)
    if config.schema_file is None:
        _check_text_among_numbers(train_df, features, train_source)
    if test_df is None:
        train_df, test_df = split_holdout(
            train_df, target, config.data.holdout, task, source=train_source
        )
        evaluated_on = train_source
    else:
        evaluated_on = str(test_source)
        check_target(test_df, target, None, source=evaluated_on)
        missing = [f for f in features if f not in test_df.columns]
        if missing:
            raise DataError(
                f"test data lacks feature column(s): {', '.join(missing)}.",
                source=test_source,
                fix="Give the test file the same columns as the training file.",
            )
    _check_slices(config, test_df, evaluated_on)
    kinds = feature_kinds(train_df, features, schema)
    model = build_model(estimator, kinds, config.model.preprocessing)
    X_train = prepare_features(train_df, kinds, source=train_source)
    y_train = train_df[target]
    X_test = prepare_features(test_df, kinds, source=evaluated_on)
    y_test = test_df[target]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folds = []
        if config.model.cv_folds:
            folds = cross_validate(
                model,
                X_train,
                y_train,
                task,
                folds=config.model.cv_folds,
                seed=config.seed,
                progress=say,
            )
        say("fitting the model")
        seconds = fit(model, X_train, y_train)
        say("evaluating on the test set")
        slices = test_df[config.evaluation.slices] if config.evaluation.slices else None
        try:
            evaluation = evaluate_model(model, X_test, y_test, task, slices=slices)
        except DataError as e:
            raise DataError(e.problem, source=evaluated_on, fix=e.fix) from e
    classes = getattr(model, "classes_", None)
    say("exporting to ONNX")
    exported = export_onnx(model, kinds, task, X_test, out / "model.onnx")
    test_df.to_parquet(out / TEST_SET, index=False)
    say("profiling the reference data for drift")
    build_profile(
        train_df,
        kinds,
        predictions=model.predict(X_test),
        prediction_kind="numeric" if task == "regression" else "categorical",
        labels=y_test.to_numpy(),
    ).save(out / PROFILE)
    card = save_bundle(
        model,
        out,
        {
            "name": config.name,
            "task": task,
            "target": target,
            "features": features,
            "kinds": kinds,
            "classes": [c.item() if hasattr(c, "item") else c for c in classes]
            if classes is not None
            else None,
            "onnx": exported.artifact,
            "onnx_note": exported.reason,
        },
    )
    catalog = Catalog.open(config.base_dir) if register else None
    comparison = None
    incomparable = None
    if catalog is not None and apply_gates:
        say("comparing with the champion")
        try:
            comparison = compare_with_champion(config, catalog, out, test_df)
        except DataError as e:
            # A new label set or target cannot be compared row by row: register the
            # version as failed with the reason, so a person can review and promote it.
            incomparable = GateCheck(
                metric="champion",
                kind="regression",
                bound=0.0,
                value=None,
                passed=False,
                reason=f"cannot compare with the champion: {e.problem}",
            )
    if comparison is not None and comparison.verdict is not None:
        gates: GateResult | None = comparison.verdict
    else:
        gates = gate_absolute(evaluation.metrics, config.gates) if apply_gates else None
    if gates is not None and incomparable is not None:
        gates = GateResult(checks=[*gates.checks, incomparable])
    passed = gates is None or gates.passed
    result = RunResult(
        **base,
        passed=passed,
        stage="done" if passed else "gate",
        reasons=[c.reason for c in gates.failures] if gates else [],
        task=task,
        features=features,
        validation=reports,
        cross_validation=folds,
        metrics=evaluation.metrics,
        evaluation=evaluation,
        gates=gates,
        training_time_s=seconds,
        model=card.artifact,
        warnings=_unique_warnings(caught)
        + (
            [
                f"no ONNX export ({exported.reason}): the gateway will serve this version "
                "with scikit-learn, far slower than the ONNX fast path, and a rollout "
                "compares its latency with the champion's"
            ]
            if exported.artifact is None and exported.reason
            else []
        ),
        comparison=comparison,
    )
    files |= {"model": str(out / card.artifact.path), "card": str(out / "model.json")}
    files |= {"test_set": str(out / TEST_SET)}
    if exported.artifact is not None:
        files["onnx"] = str(out / exported.artifact.path)
    if comparison is not None:
        files |= _write_comparison(comparison, out)
    _write(result, out, files)
    if catalog is not None:
        say("registering the version")
        result.registration = register_run(config, result, catalog)
        _write(result, out, files)
    return result


def _write_comparison(comparison: Comparison, out: Path) -> dict[str, str]:
    from mlgate.reporting.comparison import comparison_markdown

    as_json, as_markdown = out / "comparison.json", out / "comparison.md"
    as_json.write_text(comparison.model_dump_json(indent=2), encoding="utf-8")
    as_markdown.write_text(comparison_markdown(comparison), encoding="utf-8")
    return {"comparison": str(as_json), "comparison_report": str(as_markdown)}


def evaluate_saved(model: str | Path, data: str | Path) -> tuple[ModelCard, EvaluationResult]:
    """A saved model's card and its scores on labelled `data`, after checking that data fits."""
    import pandas as pd

    source = str(data)
    fitted, card = load_bundle(model)
    frame = read_pandas(data)
    _check_rows(frame, source, fix="Pass a file with labelled rows.")
    # Only what scoring needs: a test set may hold a single class, but never text for rmse.
    check_target(frame, card.target, None, source=source)
    target = frame[card.target]
    if card.task == "regression" and not pd.api.types.is_numeric_dtype(target):
        raise DataError(
            f"target column {card.target!r} holds text (e.g. {target.iloc[0]!r}), but the model "
            "is a regressor that predicts numbers.",
            source=source,
            fix="Evaluate on data whose target column holds numbers.",
        )
    missing = [f for f in card.features if f not in frame.columns]
    if missing:
        raise DataError(
            f"missing feature column(s) the model was trained on: {', '.join(missing)}.",
            source=source,
            fix=f"The model needs: {', '.join(card.features)}.",
        )
    features = prepare_features(frame, card.kinds, source=source)
    try:
        result = evaluate_model(fitted, features, target, card.task)
    except DataError as e:
        raise DataError(e.problem, source=source, fix=e.fix) from e
    return card, result


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
