"""Fitting and scoring a run's model, and saving what the registry keeps of it.

Warnings the estimator raises are caught and kept (once each), not printed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.config.models import PipelineConfig
from mlgate.drift.profile import PROFILE, build_profile
from mlgate.errors import ArtifactError, ConfigError, DataError
from mlgate.evaluation.evaluate import EvaluationResult, evaluate_model, predict_rows
from mlgate.evaluation.importance import Importance, permutation_importances
from mlgate.gates.absolute import GateCheck
from mlgate.registry.bundle import TEST_SET, ModelCard, save_bundle
from mlgate.registry.onnx import (
    MAX_DIFFERING_SHARE,
    TYPICAL_ONNX_MS,
    OnnxExport,
    export_onnx,
    same_labels,
)
from mlgate.road._data import Prepared
from mlgate.stats.estimate import Calibration
from mlgate.stats.loss import LossModel
from mlgate.training.preprocessing import build_model
from mlgate.training.train import CrossValidation, cross_validate, fit

__all__ = [
    "Fitted",
    "check_loadable",
    "fit_and_evaluate",
    "onnx_warning",
    "save",
    "unique_warnings",
]

Progress = Callable[[str], None]


@dataclass
class Fitted:
    """The fitted model and its scores."""

    model: Any
    seconds: float
    folds: list[CrossValidation]
    evaluation: EvaluationResult
    warnings: list[str] = field(default_factory=list)


def fit_and_evaluate(
    config: PipelineConfig, estimator: Any, prepared: Prepared, say: Progress
) -> Fitted:
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
    return Fitted(model, seconds, folds, evaluation, unique_warnings(caught))


def save(
    config: PipelineConfig, prepared: Prepared, fitted: Fitted, out: Path, say: Progress
) -> tuple[ModelCard, OnnxExport]:
    """The ONNX export, the test set, the reference profile and the verified bundle."""
    model, task, target = fitted.model, prepared.task, config.data.target
    say("exporting to ONNX")
    exported = export_onnx(model, prepared.kinds, task, prepared.X_test, out / "model.onnx")
    prepared.test.to_parquet(out / TEST_SET, index=False)
    say("profiling the reference data for drift")
    predicted = predict_rows(model, prepared.X_test)
    say("measuring permutation importance on the test set")
    importance = _importance(config, fitted, prepared)
    profile = build_profile(
        prepared.train,
        prepared.kinds,
        predictions=predicted,
        prediction_kind="numeric" if task == "regression" else "categorical",
        labels=prepared.test[target].to_numpy(),
    )
    if importance is not None:
        profile.importance = dict(importance.mean)
    profile.save(out / PROFILE)
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
            "onnx_differing_rows": exported.differing_rows,
            "onnx_label_flips": exported.label_flips,
            "calibration": _calibration(model, task, prepared, predicted, target),
            "loss_model": _loss_model(config, task, prepared, predicted),
            "importance": importance,
            "intended": config.card,
            "prediction_ms": {
                path: round(ms, 4)
                for path, ms in (("model", exported.model_ms), ("onnx", exported.onnx_ms))
                if ms is not None
            },
        },
        code=code_files(config),
    )
    return card, exported


def _importance(config: PipelineConfig, fitted: Fitted, prepared: Prepared) -> Importance | None:
    """The permutation importance of the model's features on the held-out rows; None
    (with a warning kept) when the model cannot be scored on shuffled rows."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            found = permutation_importances(
                fitted.model,
                prepared.X_test,
                prepared.test[config.data.target].to_numpy(),
                prepared.task,
                seed=config.seed,
            )
        except (ValueError, TypeError) as e:
            fitted.warnings.append(f"no permutation importance: {e}")
            return None
    fitted.warnings.extend(w for w in unique_warnings(caught) if w not in fitted.warnings)
    return found


def _calibration(
    model: Any, task: str, prepared: Prepared, predicted: Any, target: str
) -> Calibration | None:
    """A classifier's confidence map for estimating accuracy without labels, fitted on the
    held-out rows (mlgate.stats.estimate); None for a model without probabilities."""
    if task != "classification" or not hasattr(model, "predict_proba"):
        return None
    import numpy as np

    top = np.asarray(model.predict_proba(prepared.X_test)).max(axis=1)
    truth = prepared.test[target].to_numpy()
    return Calibration.fit(top, np.asarray(predicted) == truth)


def _loss_model(
    config: PipelineConfig, task: str, prepared: Prepared, predicted: Any
) -> LossModel | None:
    """A regressor's loss model for estimating its error without labels, fitted on the
    held-out rows (mlgate.stats.loss); None for a classifier."""
    if task != "regression":
        return None
    truth = prepared.test[config.data.target].to_numpy()
    return LossModel.fit(prepared.X_test, predicted, truth, prepared.kinds, seed=config.seed)


def code_files(config: PipelineConfig) -> list[Path]:
    """The files of `model.code`, refused when one is not there."""
    found = []
    for i, name in enumerate(config.model.code):
        path = config.base_dir / name
        if not path.is_file():
            raise ConfigError(
                "no such file in the project's folder.",
                file=config.source,
                field=f"model.code[{i}]",
                value=name,
                fix="List the Python files (beside mlgate.yaml) that define the model's classes.",
            )
        found.append(path)
    return found


def onnx_warning(exported: OnnxExport) -> list[str]:
    """What registration should know of the export: its absence, with the measured cost
    of serving without it, or the rows on which it answers otherwise than the model."""
    if exported.artifact is not None:
        if not exported.differing_rows:
            return []
        flips = f", {exported.label_flips} of them in label" if exported.label_flips else ""
        return [
            f"the ONNX export answers {exported.differing_rows} of {exported.rows_checked} "
            f"test rows otherwise than the model{flips}, as float32 arithmetic can move a "
            "feature across a tree threshold (up to "
            f"{MAX_DIFFERING_SHARE:.1%} of rows may); the gateway serves those rows as ONNX "
            "Runtime answers them"
        ]
    if not exported.reason:
        return []
    return [
        f"no ONNX export ({exported.reason}): the gateway will serve this version with "
        f"{exported.library}{_speed(exported)}, and a rollout compares its latency with the "
        "champion's"
    ]


def _speed(exported: OnnxExport) -> str:
    """How fast the model answers one row, against ONNX Runtime: measured on the export
    when one was made and refused, else the typical figure of models that convert."""
    if exported.model_ms is None:
        return ""
    said = f" at {exported.model_ms:.2f} ms a row (median of {exported.timed_rows} one-row answers)"
    if exported.onnx_ms is not None:
        ratio = exported.model_ms / exported.onnx_ms if exported.onnx_ms > 0 else float("inf")
        return (
            f"{said}, against {exported.onnx_ms:.3f} ms with ONNX Runtime as measured on the "
            f"refused export ({ratio:.0f}x slower)"
        )
    return f"{said}, against about {TYPICAL_ONNX_MS:g} ms with ONNX Runtime for models that convert"


def unique_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Each distinct warning once, on one line, with its category."""
    seen: dict[str, None] = {}
    for item in caught:
        text = " ".join(str(item.message).split())
        seen.setdefault(f"{item.category.__name__}: {text}", None)
    return list(seen)


def check_loadable(out: Path, fitted: Fitted, prepared: Prepared) -> GateCheck | None:
    """A failed check when the saved model, loaded in a fresh process exactly as the
    gateway loads it (verified files, trusted types, ONNX, its input checks), cannot
    answer its test rows or answers otherwise than the model fitted; None when it
    answers the same."""

    from mlgate.road._loadback import answers_of

    try:
        labels, onnx_labels = answers_of(out)
    except ArtifactError as e:
        return _unloadable(f"it cannot be loaded back as the gateway loads it: {e.problem}")
    expected = predict_rows(fitted.model, prepared.X_test)
    if not _same(labels, expected, prepared.task):
        return _unloadable("loaded back, it predicts otherwise than the model fitted")
    if onnx_labels is not None and not _onnx_agrees(onnx_labels, expected, prepared.task):
        return _unloadable(
            "loaded back, its ONNX export answers otherwise than when it was exported"
        )
    return None


def _same(got: Any, expected: Any, task: str) -> bool:
    """Equal answers: numbers within float noise for a regressor, labels as values."""
    import numpy as np

    if task == "regression":
        return bool(np.allclose(got.astype(float), expected.astype(float), equal_nan=True))
    return bool(same_labels(got, expected).all())


def _onnx_agrees(got: Any, expected: Any, task: str) -> bool:
    """Whether ONNX Runtime's answers differ from the model's on no more rows than an
    export may (registry.onnx.MAX_DIFFERING_SHARE)."""
    import numpy as np

    if len(got) != len(expected):
        return False
    if task == "regression":
        close = np.isclose(got.astype(float), expected.astype(float), rtol=1e-4, atol=1e-4)
        differing = int((~close).sum())
    else:
        differing = int((~same_labels(got, expected)).sum())
    return differing <= MAX_DIFFERING_SHARE * len(expected)


def _unloadable(reason: str) -> GateCheck:
    return GateCheck.unmeasured(
        "loadable",
        "min",
        1.0,
        f"{reason}. A version the gateway cannot load is never registered as passing; "
        "list the module that defines its classes under model.code, or use an estimator "
        "of scikit-learn, XGBoost or LightGBM",
    )
