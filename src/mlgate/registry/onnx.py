"""ONNX export for fast serving, kept only when it answers as the model does.

How closely it must agree is `_agreement`'s to say (labels by value, probabilities
within 1e-4, a counted few float32 threshold flips for tree models). Either way the
one-row speed is measured, so registration can say what serving without ONNX costs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlgate.evaluation.evaluate import predict_rows
from mlgate.registry._agreement import (
    MAX_DIFFERING_SHARE,
    PROBABILITY_TOLERANCE,
    REGRESSION_TOLERANCE,
    Agreement,
    classifier_agreement,
    regressor_agreement,
    same_labels,
)
from mlgate.registry._converters import hist_gradient_boosting_fixed, register_converters
from mlgate.registry._onnx_graph import inputs_named, labels_typed_as
from mlgate.registry.artifacts import ArtifactInfo, sha256_file
from mlgate.training.preprocessing import final_estimator, is_tree_ensemble

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "MAX_DIFFERING_SHARE",
    "PROBABILITY_TOLERANCE",
    "REGRESSION_TOLERANCE",
    "TYPICAL_ONNX_MS",
    "OnnxExport",
    "export_onnx",
    "library_of",
    "onnx_feed",
    "same_labels",
    "served_p99_ms",
]

#: One-row answer time of ONNX Runtime, in ms, for models that convert: forests, boosted
#: trees and linear models on tabular features take 0.04-0.15 ms a row on a shared 2-core
#: machine (this module's own timing of the exports it keeps). Said when the model did
#: not convert, so there was no export to time.
TYPICAL_ONNX_MS = 0.1
#: Rows timed one at a time to compare serving speed with and without ONNX ...
TIMED_ROWS = 30
#: ... unless timing them would take longer than this many seconds (at least 5 are timed).
TIMING_BUDGET_S = 1.0


class OnnxExport(BaseModel):
    """Whether the model was exported to ONNX, how closely the export agrees, and how
    fast one row is answered with and without it."""

    artifact: ArtifactInfo | None = None
    reason: str
    rows_checked: int = 0
    max_probability_difference: float | None = None
    #: Rows on which the export's answer differs from the model's (ties excluded).
    differing_rows: int = 0
    #: Of those, rows whose label differs (a float32 threshold flip).
    label_flips: int = 0
    #: The library that answers when there is no export (scikit-learn, XGBoost, ...).
    library: str = "scikit-learn"
    #: Median time to answer one row as the gateway would without ONNX (the model's own
    #: predict, and predict_proba for a classifier), in ms; measured when no export is kept.
    model_ms: float | None = None
    #: Median time to answer one row with ONNX Runtime, in ms; measured whenever the
    #: conversion gave a session, kept or refused.
    onnx_ms: float | None = None
    #: Rows timed for each figure.
    timed_rows: int = 0


def onnx_feed(X: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray[Any, Any]]:
    """ONNX Runtime inputs for prepared features: one [rows, 1] tensor per column."""
    import numpy as np

    return {
        name: (
            X[name].to_numpy(np.float32) if kind == "numeric" else X[name].to_numpy(dtype=object)
        ).reshape(-1, 1)
        for name, kind in kinds.items()
    }


#: How the libraries whose estimators mlgate serves are called, by top-level module.
_LIBRARIES = {
    "sklearn": "scikit-learn",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "catboost": "CatBoost",
}


def library_of(model: Any) -> str:
    """The library that predicts for `model` (its final estimator's), as people call it."""
    module = type(final_estimator(model)).__module__.partition(".")[0]
    return _LIBRARIES.get(module, f"its own library ({module})")


def _with_column_inputs(model: Any, columns: list[str], X: pd.DataFrame) -> Any:
    """`model` as a pipeline that takes one input per column, the way it is served.

    A pipeline without a column transformer in front (`preprocessing: none`) gets a
    pass-through one for the conversion; skl2onnx would otherwise want one input.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    steps = getattr(model, "steps", None)
    if steps and isinstance(steps[0][1], ColumnTransformer):
        return model
    front = ColumnTransformer([("columns", "passthrough", columns)]).fit(X)
    return Pipeline([("columns", front), ("model", model)])


def _convertible(model: Any) -> Any:
    """`model` as skl2onnx can read it: a copy whose HistGradientBoosting trees number
    their nodes in int64. scikit-learn 1.6+ stores them as uint32, which skl2onnx
    passes on and ONNX's node builder refuses ("Unable to create node
    'TreeEnsembleClassifier'"). The model itself is left as it is."""
    import copy

    import numpy as np

    if not getattr(final_estimator(model), "_predictors", None):
        return model
    copied = copy.deepcopy(model)
    for trees in final_estimator(copied)._predictors:
        for tree in trees:
            fields = tree.nodes.dtype
            wider = np.dtype(
                [
                    (name, np.int64 if fields[name].kind == "u" else fields[name])
                    for name in fields.names
                ]
            )
            tree.nodes = tree.nodes.astype(wider)
    return copied


def export_onnx(
    model: Any, kinds: dict[str, str], task: str, X_check: pd.DataFrame, path: Path
) -> OnnxExport:
    """Convert `model`, then keep `path` only if it answers `X_check` as the model does
    (see `_agreement`); time one-row answers with whichever paths there are."""
    try:
        import onnxruntime as ort
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    except ImportError as e:
        return _without(f"skl2onnx or onnxruntime is not installed ({e})", model, task, X_check)
    if len(X_check) == 0:
        return OnnxExport(
            reason="not exported: no rows to check the export's predictions on",
            library=library_of(model),
        )
    inputs = [
        (name, FloatTensorType([None, 1]) if kind == "numeric" else StringTensorType([None, 1]))
        for name, kind in kinds.items()
    ]
    estimator = final_estimator(model)
    try:
        opsets = register_converters(estimator)
    except ImportError as e:
        reason = f"no converter for {type(estimator).__name__} ({e})"
        return _without(reason, model, task, X_check)
    converted = _convertible(model)
    final = final_estimator(converted)
    options = {id(final): {"zipmap": False}} if task == "classification" else None
    try:
        with warnings.catch_warnings(), hist_gradient_boosting_fixed():
            warnings.simplefilter("ignore")
            proto = convert_sklearn(
                _with_column_inputs(converted, list(kinds), X_check),
                initial_types=inputs,
                options=options,
                target_opset=opsets,
            )
        inputs_named(proto, list(kinds))
        if task == "classification":
            labels_typed_as(proto, getattr(model, "classes_", None))
        session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        outputs = session.run(None, onnx_feed(X_check, kinds))
    except Exception as e:  # skl2onnx raises many kinds for unsupported models
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return _without(f"not convertible: {first[:300]}", model, task, X_check)
    agreement = _agreement(model, task, X_check, outputs)
    onnx_ms, timed = _median_ms(lambda row: session.run(None, onnx_feed(row, kinds)), X_check)
    if agreement.refusal is not None:
        return _without(agreement, model, task, X_check, onnx_ms=onnx_ms)
    path.write_bytes(proto.SerializeToString())
    artifact = ArtifactInfo(
        path=path.name, sha256=sha256_file(path), size_bytes=path.stat().st_size
    )
    return OnnxExport(
        artifact=artifact,
        reason=agreement.note,
        rows_checked=agreement.rows,
        max_probability_difference=agreement.max_probability_difference,
        differing_rows=agreement.differing,
        label_flips=agreement.label_flips,
        library=library_of(model),
        onnx_ms=onnx_ms,
        timed_rows=timed,
    )


def _agreement(model: Any, task: str, X_check: pd.DataFrame, outputs: list[Any]) -> Agreement:
    """How the export's `outputs` for `X_check` compare with the model's answers."""
    expected = predict_rows(model, X_check)
    got = outputs[0].reshape(-1)
    trees = is_tree_ensemble(model)
    if task != "classification":
        return regressor_agreement(expected, got, trees=trees)
    proba = model.predict_proba(X_check) if hasattr(model, "predict_proba") else None
    onnx_proba = outputs[1] if len(outputs) > 1 else None
    return classifier_agreement(expected, got, proba, onnx_proba, trees=trees)


def _without(
    why: str | Agreement,
    model: Any,
    task: str,
    X_check: pd.DataFrame,
    *,
    onnx_ms: float | None = None,
) -> OnnxExport:
    """No export, saying why and how fast the model answers one row without it."""

    def answer(row: pd.DataFrame) -> None:
        # As the gateway answers without ONNX: labels, and a classifier's probabilities.
        model.predict(row)
        if task == "classification" and hasattr(model, "predict_proba"):
            model.predict_proba(row)

    model_ms, timed = _median_ms(answer, X_check)
    checked = why if isinstance(why, Agreement) else None
    reason = str(why) if checked is None else checked.note + _hint(model)
    return OnnxExport(
        reason=reason,
        rows_checked=checked.rows if checked is not None else 0,
        max_probability_difference=checked.max_probability_difference if checked else None,
        differing_rows=checked.differing if checked is not None else 0,
        label_flips=checked.label_flips if checked is not None else 0,
        library=library_of(model),
        model_ms=model_ms,
        onnx_ms=onnx_ms,
        timed_rows=timed,
    )


#: Steps that only fill in, encode or select values: ONNX Runtime gives the float32 of the
#: value scikit-learn gives, and rounding keeps a value at or below a threshold there.
_EXACT_STEPS = frozenset({"SimpleImputer", "OneHotEncoder", "VarianceThreshold"})


def _hint(model: Any) -> str:
    """For a tree model refused, the steps before its trees that compute on numbers (in
    float32 under ONNX Runtime), and the fix; else nothing."""
    if not is_tree_ensemble(model):
        return ""
    final = final_estimator(model)
    found: dict[str, None] = {}

    def walk(step: Any) -> None:
        if isinstance(step, str):  # a column transformer's "passthrough" or "drop"
            return
        if hasattr(step, "steps"):
            for _, inner in step.steps:
                walk(inner)
        elif hasattr(step, "transformers_"):
            for _, inner, _ in step.transformers_:
                walk(inner)
        elif step is not final and type(step).__name__ not in _EXACT_STEPS:
            found[type(step).__name__] = None

    walk(model)
    if not found:
        return ""
    verb = "compute" if len(found) > 1 else "computes"
    return (
        f"; {', '.join(found)} in front of the trees {verb} in float32 under ONNX Runtime, "
        "which moves rows that sit on a threshold across it (a tree model needs no scaling: "
        "without such steps the export keeps to the model's answers)"
    )


def _median_ms(predict: Any, X: pd.DataFrame) -> tuple[float | None, int]:
    """Median time, in ms, to answer one row at a time (after one unmeasured call), and
    how many rows were timed: TIMED_ROWS, or fewer past TIMING_BUDGET_S."""
    import statistics
    import time

    rows = [X.iloc[[i]] for i in range(min(TIMED_ROWS, len(X)))]
    if not rows:
        return None, 0
    times: list[float] = []
    try:
        predict(rows[0])
        for row in rows:
            start = time.perf_counter()
            predict(row)
            times.append(time.perf_counter() - start)
            if len(times) >= 5 and sum(times) > TIMING_BUDGET_S:
                break
    except Exception:  # a model that cannot predict one row: no figure, the checks say why
        return None, 0
    return statistics.median(times) * 1e3, len(times)


#: One-row predictions timed per version to compare serving latency (after 20 unmeasured).
LATENCY_CALLS = 200


def served_p99_ms(model: Any, card: Any, folder: Path, X: pd.DataFrame) -> float | None:
    """The p99 time, in ms, to answer one row the way the gateway serves this version: its
    ONNX export through ONNX Runtime when it has one, else the model itself."""
    import hashlib
    import time

    import numpy as np

    rows = [X.iloc[[i]] for i in range(min(50, len(X)))]
    if not rows:
        return None
    predict: Any = model.predict
    if card.onnx is not None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        data = (folder / card.onnx.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != card.onnx.sha256:
            return None  # the gateway would refuse it; its checks say so elsewhere
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        kinds = card.kinds

        def predict(row: pd.DataFrame) -> Any:
            return session.run(None, onnx_feed(row, kinds))

    times = []
    for i in range(LATENCY_CALLS + 20):
        start = time.perf_counter()
        predict(rows[i % len(rows)])
        if i >= 20:
            times.append(time.perf_counter() - start)
    return float(np.percentile(times, 99)) * 1e3
