"""Open Inference Protocol (KServe V2) input tensors into a `Batch`, and their datatypes.

`DATATYPES` is the one list of the V2 datatypes a request may name: the
requests are checked against it here, and the OpenAPI document
(`schemas.V2_INFER`) lists it.
"""

from __future__ import annotations

import math
from typing import Any

from mlgate.errors import InputError
from mlgate.serving.batch import Batch, check_rows, from_columns
from mlgate.serving.coercion import show_value
from mlgate.serving.runtime import ServedModel

__all__ = ["DATATYPES", "parse_v2"]

#: The tensor datatypes of the Open Inference Protocol, in the order its specification
#: lists them. The data is read as JSON values whatever the datatype says; each
#: feature's own checks decide what a value may be.
DATATYPES: tuple[str, ...] = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
)
_DATATYPES = frozenset(DATATYPES)

#: (name, shape, datatype, the data flattened)
Tensor = tuple[str, list[int], str, list[Any]]


def parse_v2(model: ServedModel, body: Any, *, limit: int) -> Batch:
    """A batch from an Open Inference Protocol (KServe V2) request.

    Either one [rows, features] tensor in the model's feature order, or one
    [rows] (or [rows, 1]) tensor per feature, named after it.
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise InputError(
            'expected {"inputs": [{"name", "shape", "datatype", "data"}, ...]}',
            status=400,
            code="bad_body",
        )
    tensors = [_tensor(spec, i) for i, spec in enumerate(body["inputs"])]
    if not tensors:
        raise InputError("inputs is empty", status=400, code="bad_body")
    if len(tensors) == 1 and tensors[0][0] not in model.card.kinds:
        return _from_rows_tensor(model, tensors[0], limit)
    columns = {}
    for name, shape, _, values in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InputError(
                f"input {name!r} must have shape [rows] or [rows, 1], got {shape}",
                feature=name,
                code="bad_shape",
            )
        if name in columns:
            raise InputError(
                f"input {name!r} is given more than once; send one tensor per feature",
                feature=name,
                code="wrong_features",
            )
        columns[name] = values
    return from_columns(model, columns, limit=limit)


def _from_rows_tensor(model: ServedModel, tensor: Tensor, limit: int) -> Batch:
    """A batch from one [rows, features] tensor, the features in the model's order."""
    features = model.features
    name, shape, _, values = tensor
    if len(shape) != 2 or shape[1] != len(features):
        raise InputError(
            f"a single input tensor ({name}) must have shape [rows, {len(features)}] "
            f"with the features in order: {', '.join(features)}; got {shape}",
            code="wrong_features",
        )
    check_rows(shape[0], limit)
    width = len(features)
    columns = {f: values[j::width] for j, f in enumerate(features)}
    return from_columns(model, columns, limit=limit)


def _tensor(spec: Any, index: int) -> Tensor:
    if not isinstance(spec, dict):
        raise InputError(f"inputs[{index}] must be an object", status=400, code="bad_tensor")
    name, shape, datatype, data = (spec.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str):
        raise InputError(f"inputs[{index}].name must be a string", status=400, code="bad_tensor")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InputError(
            f"inputs[{index}] ({name}): shape must be a list of non-negative integers",
            status=400,
            code="bad_tensor",
        )
    if not isinstance(datatype, str) or datatype not in _DATATYPES:
        raise InputError(
            f"inputs[{index}] ({name}): unknown datatype {show_value(datatype)}; one of "
            f"{', '.join(sorted(DATATYPES))}",
            status=400,
            code="bad_tensor",
        )
    values = _flatten(data)
    expected = math.prod(shape)
    if len(values) != expected:
        raise InputError(
            f"inputs[{index}] ({name}): shape {shape} needs {expected} value(s), "
            f"data has {len(values)}",
            status=400,
            code="bad_tensor",
        )
    return name, shape, datatype, values


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InputError("a tensor's data must be a list", status=400, code="bad_tensor")
    if not any(isinstance(item, list) for item in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat
