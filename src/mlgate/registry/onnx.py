"""ONNX export for fast serving, kept only when it predicts what the original predicts."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlgate.registry._converters import register_converters
from mlgate.registry.artifacts import ArtifactInfo, sha256_file

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["OnnxExport", "export_onnx", "onnx_feed"]

#: Largest difference allowed between ONNX and scikit-learn regression outputs, relative.
REGRESSION_TOLERANCE = 1e-4
#: Probabilities this close count as a tie between two classes.
TIE_TOLERANCE = 1e-6


class OnnxExport(BaseModel):
    """Whether the model was exported to ONNX, and how closely the export agrees."""

    artifact: ArtifactInfo | None = None
    reason: str
    rows_checked: int = 0
    max_probability_difference: float | None = None


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


def export_onnx(
    model: Any, kinds: dict[str, str], task: str, X_check: pd.DataFrame, path: Path
) -> OnnxExport:
    """Convert `model`, then keep `path` only if labels on `X_check` match exactly."""
    import numpy as np

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
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    try:
        opsets = register_converters(estimator)
    except ImportError as e:
        return OnnxExport(reason=f"no converter for {type(estimator).__name__} ({e})")
    options = {id(estimator): {"zipmap": False}} if task == "classification" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proto = convert_sklearn(
                _with_column_inputs(model, list(kinds), X_check),
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
        return OnnxExport(reason=f"not convertible: {first[:300]}")
    expected = model.predict(X_check)
    got = outputs[0].reshape(-1)
    agreed = "predictions equal to scikit-learn's on every test row"
    if task == "classification":
        same = np.asarray(got).astype(str) == np.asarray(expected).astype(str)
        proba = model.predict_proba(X_check) if hasattr(model, "predict_proba") else None
        tied = (_tied(proba) if proba is not None else np.zeros(len(same), dtype=bool)) & ~same
        if not bool((same | tied).all()):
            return OnnxExport(
                reason=f"ONNX labels differ on {int((~same).sum())} of {len(same)} test rows",
                rows_checked=len(same),
            )
        if tied.any():
            agreed = (
                f"predictions equal to scikit-learn's on every test row but {int(tied.sum())} "
                "where two classes tie (equal probabilities: the label is either)"
            )
        difference = None
        if len(outputs) > 1 and proba is not None:
            difference = float(np.max(np.abs(outputs[1] - proba)))
    else:
        scale = max(float(np.max(np.abs(expected))), 1.0)
        worst = float(np.max(np.abs(got - expected))) / scale if len(expected) else 0.0
        if worst > REGRESSION_TOLERANCE:
            return OnnxExport(
                reason=f"ONNX outputs differ by up to {worst:.2e} (relative), over the "
                f"{REGRESSION_TOLERANCE:g} allowed",
                rows_checked=len(expected),
            )
        difference = None
    path.write_bytes(proto.SerializeToString())
    artifact = ArtifactInfo(
        path=path.name, sha256=sha256_file(path), size_bytes=path.stat().st_size
    )
    return OnnxExport(
        artifact=artifact,
        reason=agreed,
        rows_checked=len(expected),
        max_probability_difference=difference,
    )
