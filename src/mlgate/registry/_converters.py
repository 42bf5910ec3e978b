"""ONNX converters for XGBoost and LightGBM estimators, registered with skl2onnx on demand,
and the one repair skl2onnx's HistGradientBoosting converter needs.

skl2onnx converts scikit-learn pipelines only; onnxmltools holds the converters of
the boosting libraries. They are registered the first time a pipeline ending in
one of them is exported, so neither library is imported before it is needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["hist_gradient_boosting_fixed", "register_converters"]

_registered: set[type[Any]] = set()


#: onnxmltools' tree converters write ai.onnx.ml operators of version 3 at most.
ML_OPSET = 3


def register_converters(estimator: Any) -> dict[str, int] | None:
    """Teach skl2onnx to convert `estimator`'s class when it is an XGBoost or LightGBM one,
    and give the opsets to convert with (None: skl2onnx's defaults).

    Raises ImportError (naming what to install) when onnxmltools is missing.
    """
    kind = type(estimator)
    library = kind.__module__.partition(".")[0]
    if library not in ("xgboost", "lightgbm"):
        return None
    from skl2onnx import get_latest_tested_opset_version

    opsets = {"": get_latest_tested_opset_version(), "ai.onnx.ml": ML_OPSET}
    if kind in _registered:
        return opsets
    try:
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    except ImportError as e:
        raise ImportError(f"{e}; pip install onnxmltools to export {kind.__name__}") from e
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier = hasattr(estimator, "predict_proba")
    update_registered_converter(
        kind,
        f"{library}{kind.__name__}",
        calculate_linear_classifier_output_shapes
        if classifier
        else calculate_linear_regressor_output_shapes,
        convert_xgboost if library == "xgboost" else convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]} if classifier else None,
    )
    _registered.add(kind)
    return opsets


@contextlib.contextmanager
def hist_gradient_boosting_fixed() -> Iterator[None]:
    """Within the block, skl2onnx's tree nodes record "missing goes left" as 0 or 1.

    For a leaf of a HistGradientBoosting tree skl2onnx 1.20 passes the Python False,
    which current onnx refuses in an integer attribute ("Expected an int, got a
    boolean"): every HistGradientBoosting model failed to convert.
    """
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args: Any, **kwargs: Any) -> Any:
        if "nodes_missing_value_tracks_true" in kwargs:
            kwargs["nodes_missing_value_tracks_true"] = int(
                kwargs["nodes_missing_value_tracks_true"]
            )
        return original(*args, **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original
