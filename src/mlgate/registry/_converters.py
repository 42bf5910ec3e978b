"""ONNX converters for XGBoost, LightGBM and CatBoost estimators, registered with skl2onnx
on demand, and the one repair skl2onnx's HistGradientBoosting converter needs.

skl2onnx converts scikit-learn pipelines only; onnxmltools holds the converters of
XGBoost and LightGBM, and CatBoost exports its own models (`convert_to_onnx_object`,
what `save_model(format="onnx")` writes) as one tree-ensemble node, which is put in
the pipeline's graph behind the preprocessing. They are registered the first time a
pipeline ending in one of them is exported, so no library is imported before it is
needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from mlgate.errors import ArtifactError

__all__ = ["hist_gradient_boosting_fixed", "register_converters"]

_registered: set[type[Any]] = set()


#: onnxmltools' tree converters write ai.onnx.ml operators of version 3 at most.
ML_OPSET = 3


def register_converters(estimator: Any) -> dict[str, int] | None:
    """Teach skl2onnx to convert `estimator`'s class when it is an XGBoost, LightGBM or
    CatBoost one, and give the opsets to convert with (None: skl2onnx's defaults).

    Raises ImportError (naming what to install) when onnxmltools is missing.
    """
    kind = type(estimator)
    library = kind.__module__.partition(".")[0]
    if library not in ("xgboost", "lightgbm", "catboost"):
        return None
    from skl2onnx import get_latest_tested_opset_version

    opsets = {"": get_latest_tested_opset_version(), "ai.onnx.ml": ML_OPSET}
    if kind in _registered:
        return opsets
    if library == "catboost":
        _register_catboost(kind, classifier=hasattr(estimator, "predict_proba"))
        _registered.add(kind)
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


def _register_catboost(kind: type[Any], *, classifier: bool) -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    if classifier:
        update_registered_converter(
            kind,
            f"catboost{kind.__name__}",
            calculate_linear_classifier_output_shapes,
            _convert_catboost,
            parser=_parse_catboost_classifier,
            options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
        )
    else:
        update_registered_converter(
            kind,
            f"catboost{kind.__name__}",
            calculate_linear_regressor_output_shapes,
            _convert_catboost,
        )


def _parse_catboost_classifier(
    scope: Any, model: Any, inputs: list[Any], custom_parsers: Any = None
) -> list[Any]:
    """The classifier's outputs, a label and its probabilities (a ZipMap behind them
    unless the options say zipmap=False), as skl2onnx's own classifiers declare them."""
    from skl2onnx._parse import _apply_zipmap, _get_sklearn_operator_name
    from skl2onnx.common.data_types import Int64TensorType, guess_tensor_type

    options = scope.get_options(model, {"zipmap": True})
    operator = scope.declare_local_operator(_get_sklearn_operator_name(type(model)), model)
    operator.inputs = inputs
    # The shape calculator types the label from the model's classes (int64 or string).
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    probabilities = guess_tensor_type(inputs[0].type)
    operator.outputs.append(scope.declare_local_variable("probabilities", probabilities))
    if options["zipmap"] is False:
        return list(operator.outputs)
    return list(_apply_zipmap(options["zipmap"], scope, model, inputs[0].type, operator.outputs))


def _convert_catboost(scope: Any, operator: Any, container: Any) -> None:
    """CatBoost's own export of the model, one TreeEnsemble node, placed in the graph."""
    from catboost.utils import convert_to_onnx_object
    from onnx.helper import get_attribute_value

    # Raises CatBoost's own error for what it cannot export (e.g. float class labels).
    exported = convert_to_onnx_object(operator.raw_operator)
    graph = exported.graph
    nodes = [node.op_type for node in graph.node]
    if (
        not nodes
        or not nodes[0].startswith("TreeEnsemble")
        or any(kind != "ZipMap" for kind in nodes[1:])
        or len(graph.initializer) > 0
    ):
        # Caught by export_onnx, which registers the version without ONNX, saying why.
        raise ArtifactError(
            f"CatBoost's ONNX export holds {', '.join(nodes) or 'no node'}, not one tree "
            "ensemble to put behind the preprocessing.",
            fix="The version is served by CatBoost itself.",
        )
    trees = graph.node[0]
    opsets = {entry.domain: entry.version for entry in exported.opset_import}
    container.add_node(
        trees.op_type,
        [operator.inputs[0].full_name],
        [output.full_name for output in operator.outputs[: len(trees.output)]],
        op_domain=trees.domain,
        op_version=opsets.get(trees.domain),
        name=scope.get_unique_operator_name(trees.op_type),
        **{attribute.name: get_attribute_value(attribute) for attribute in trees.attribute},
    )


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
