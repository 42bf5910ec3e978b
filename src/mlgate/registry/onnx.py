"""ONNX export for fast serving, kept only when it predicts what the original predicts."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlgate.registry._converters import hist_gradient_boosting_fixed, register_converters
from mlgate.registry.artifacts import ArtifactInfo, sha256_file

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["OnnxExport", "export_onnx", "onnx_feed"]

#: Largest difference allowed between ONNX and scikit-learn regression outputs, relative.
REGRESSION_TOLERANCE = 1e-4
#: Probabilities this close count as a tie between two classes.
TIE_TOLERANCE = 1e-6
#: A row whose ONNX probabilities differ from the model's by more than this disagrees.
PROBABILITY_TOLERANCE = 1e-4
#: Share of checked rows on which an export may disagree with the model and be kept. ONNX
#: Runtime compares features with tree thresholds in float32: a value within float32
#: rounding of a threshold takes the other branch (a RandomForest on data with full
#: float64 precision flips about one row in a thousand). Such rows are counted, recorded
#: in the model card and shown at registration; beyond this share the export is refused.
MAX_DIFFERING_SHARE = 0.005
#: Rows timed one at a time to compare serving speed with and without ONNX.
TIMED_ROWS = 30


class OnnxExport(BaseModel):
    """Whether the model was exported to ONNX, and how closely the export agrees."""

    artifact: ArtifactInfo | None = None
    reason: str
    rows_checked: int = 0
    max_probability_difference: float | None = None
    #: Rows on which the export's answer differs from the model's (ties excluded).
    differing_rows: int = 0
    #: Median single-row prediction time of the model itself, and of the export (ms).
    model_ms: float | None = None
    onnx_ms: float | None = None


def onnx_feed(X: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray[Any, Any]]:
    """ONNX Runtime inputs for prepared features: one [rows, 1] tensor per column."""
    import numpy as np

    return {
        name: (
            X[name].to_numpy(np.float32) if kind == "numeric" else X[name].to_numpy(dtype=object)
        ).reshape(-1, 1)
        for name, kind in kinds.items()
    }


def _tied(proba: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Rows whose two likeliest classes have the same probability, to within rounding.

    scikit-learn breaks such a tie by class order; ONNX's float32 sums break it by
    rounding (0.49999994 against 0.50000006), so the labels may differ there.
    """
    import numpy as np

    if proba.ndim != 2 or proba.shape[1] < 2:
        return np.zeros(len(proba), dtype=bool)
    top = np.sort(proba, axis=1)[:, -2:]
    result: np.ndarray[Any, Any] = np.abs(top[:, 1] - top[:, 0]) <= TIE_TOLERANCE
    return result


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

    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    predictors = getattr(estimator, "_predictors", None)
    if not predictors:
        return model
    copied = copy.deepcopy(model)
    for trees in (copied.steps[-1][1] if hasattr(copied, "steps") else copied)._predictors:
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
    (labels by value, probabilities within PROBABILITY_TOLERANCE) on all rows but at
    most MAX_DIFFERING_SHARE of them; time one-row predictions either way."""
    try:
        import onnxruntime as ort
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    except ImportError as e:
        return OnnxExport(reason=f"skl2onnx or onnxruntime is not installed ({e})")
    if len(X_check) == 0:
        return OnnxExport(reason="not exported: no rows to check the export's predictions on")
    inputs = [
        (name, FloatTensorType([None, 1]) if kind == "numeric" else StringTensorType([None, 1]))
        for name, kind in kinds.items()
    ]
    model_ms = _median_ms(model.predict, X_check)
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    try:
        opsets = register_converters(estimator)
    except ImportError as e:
        return OnnxExport(
            reason=f"no converter for {type(estimator).__name__} ({e})", model_ms=model_ms
        )
    converted = _convertible(model)
    final = converted.steps[-1][1] if hasattr(converted, "steps") else converted
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
        session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        outputs = session.run(None, onnx_feed(X_check, kinds))
    except Exception as e:  # skl2onnx raises many kinds for unsupported models
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return OnnxExport(reason=f"not convertible: {first[:300]}", model_ms=model_ms)
    expected = model.predict(X_check)
    got = outputs[0].reshape(-1)
    if task == "classification":
        verdict = _classifier_agreement(model, X_check, expected, got, outputs)
    else:
        verdict = _regressor_agreement(expected, got)
    if isinstance(verdict, str):
        return OnnxExport(reason=verdict, rows_checked=len(expected), model_ms=model_ms)
    agreed, differing, difference = verdict
    path.write_bytes(proto.SerializeToString())
    artifact = ArtifactInfo(
        path=path.name, sha256=sha256_file(path), size_bytes=path.stat().st_size
    )

    def feed_one(row: pd.DataFrame) -> Any:
        return session.run(None, onnx_feed(row, kinds))

    return OnnxExport(
        artifact=artifact,
        reason=agreed,
        rows_checked=len(expected),
        max_probability_difference=difference,
        differing_rows=differing,
        model_ms=model_ms,
        onnx_ms=_median_ms(feed_one, X_check),
    )


def same_labels(a: Any, b: Any) -> Any:
    """Row by row, whether two label arrays name the same class: by value, so the
    0.0 of a float-labelled model is the 0 ONNX Runtime answers, and "1" is not 1."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return a.astype(np.float64) == b.astype(np.float64)
    return np.asarray([str(x) for x in a.tolist()]) == np.asarray([str(x) for x in b.tolist()])


def _classifier_agreement(
    model: Any, X_check: pd.DataFrame, expected: Any, got: Any, outputs: list[Any]
) -> tuple[str, int, float | None] | str:
    """(what agreed, rows that differ, largest probability difference), or why refused."""
    import numpy as np

    same = same_labels(got, expected)
    proba = model.predict_proba(X_check) if hasattr(model, "predict_proba") else None
    tied = (_tied(proba) if proba is not None else np.zeros(len(same), dtype=bool)) & ~same
    differs = ~same & ~tied
    difference = None
    if len(outputs) > 1 and proba is not None:
        gap = np.max(np.abs(np.asarray(outputs[1], dtype=np.float64) - proba), axis=1)
        differs |= gap > PROBABILITY_TOLERANCE
        difference = float(gap.max()) if len(gap) else None
    count, rows = int(differs.sum()), len(same)
    if count > MAX_DIFFERING_SHARE * rows:
        return (
            f"ONNX answers differ on {count} of {rows} test rows (labels, or probabilities by "
            f"more than {PROBABILITY_TOLERANCE:g}); at most {MAX_DIFFERING_SHARE:.1%} may"
        )
    agreed = "predictions equal to the model's on every test row"
    if count:
        agreed = (
            f"predictions equal to the model's on {rows - count} of {rows} test rows; "
            f"{count} differ where a feature sits within float32 rounding of a tree "
            f"threshold (at most {MAX_DIFFERING_SHARE:.1%} may)"
        )
    if tied.any():
        agreed += (
            f"{'' if count else ' but'} {int(tied.sum())} where two classes tie (equal "
            "probabilities: the label is either)"
        )
    return agreed, count, difference


def _regressor_agreement(expected: Any, got: Any) -> tuple[str, int, None] | str:
    """(what agreed, rows that differ, None), or why refused: a row differs when its
    output is off by more than REGRESSION_TOLERANCE of the outputs' scale."""
    import numpy as np

    if not len(expected):
        return "no rows to compare", 0, None
    scale = max(float(np.max(np.abs(expected))), 1.0)
    off = np.abs(np.asarray(got, dtype=np.float64) - expected) / scale
    count, rows = int((off > REGRESSION_TOLERANCE).sum()), len(expected)
    if count > MAX_DIFFERING_SHARE * rows:
        return (
            f"ONNX outputs differ on {count} of {rows} test rows, by up to {off.max():.2e} "
            f"(relative; {REGRESSION_TOLERANCE:g} allowed); at most {MAX_DIFFERING_SHARE:.1%} "
            "of rows may"
        )
    if count:
        return (
            f"outputs within {REGRESSION_TOLERANCE:g} (relative) of the model's on "
            f"{rows - count} of {rows} test rows; {count} differ where a feature sits within "
            f"float32 rounding of a tree threshold (at most {MAX_DIFFERING_SHARE:.1%} may)",
            count,
            None,
        )
    return "predictions equal to the model's on every test row", 0, None


def _median_ms(predict: Any, X: pd.DataFrame) -> float | None:
    """Median time, in ms, to predict one row at a time (after one unmeasured call)."""
    import statistics
    import time

    rows = [X.iloc[[i]] for i in range(min(TIMED_ROWS, len(X)))]
    if not rows:
        return None
    try:
        predict(rows[0])
        times = []
        for row in rows:
            start = time.perf_counter()
            predict(row)
            times.append(time.perf_counter() - start)
    except Exception:  # a model that cannot predict one row: no figure, the checks say why
        return None
    return statistics.median(times) * 1e3


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
