"""Fixes to the graph skl2onnx makes, so that the export is fed and answers as the model is:
inputs by the columns' own names, labels of the model's own type."""

from __future__ import annotations

from typing import Any

__all__ = ["inputs_named", "labels_typed_as"]


def labels_typed_as(proto: Any, classes: Any) -> None:
    """Make the export's label output carry the model's own label type.

    skl2onnx answers the classes of a model fitted on 0.0/1.0 (or False/True) as the
    integers 0/1; cast back, the gateway serves 1.0 (or true) whether it answers with
    ONNX Runtime or with the model, as the model card's classes say.
    """
    import numpy as np
    from onnx import TensorProto, helper

    kind = np.asarray(classes).dtype.kind if classes is not None else ""
    target = {"f": TensorProto.DOUBLE, "b": TensorProto.BOOL}.get(kind)
    label = proto.graph.output[0]
    if target is None or label.type.tensor_type.elem_type != TensorProto.INT64:
        return
    inner = f"{label.name}_as_int64"
    for node in proto.graph.node:
        for i, name in enumerate(node.output):
            if name == label.name:
                node.output[i] = inner
    proto.graph.node.append(
        helper.make_node("Cast", [inner], [label.name], to=target, name="labels_as_the_model")
    )
    label.type.tensor_type.elem_type = target


def inputs_named(proto: Any, names: list[str]) -> None:
    """Give the graph's inputs the columns' own names: skl2onnx makes names such as
    `claim.amount` or `policy age` into identifiers (`claim_amount`), while the
    gateway and the checks feed each column by its name (any text is an ONNX name)."""
    graph = proto.graph
    if len(graph.input) != len(names):
        return
    renamed = {i.name: name for i, name in zip(graph.input, names, strict=True) if i.name != name}
    if not renamed:
        return
    for given in graph.input:
        given.name = renamed.get(given.name, given.name)
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
