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
from mlgate.serving.binary import read_values
from mlgate.serving.body import Binary
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
    [rows] (or [rows, 1]) tensor per feature, named after it. A `Binary` body's
    tensors may hold their values in its bytes (the binary data extension).
    """
    tail = None
    if isinstance(body, Binary):
        body, tail = body.head, body.tail
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise InputError(
            'expected {"inputs": [{"name", "shape", "datatype", "data"}, ...]}',
            status=400,
            code="bad_body",
        )
    at = [0]  # how far the binary data is read
    tensors = [_tensor(spec, i, tail, at) for i, spec in enumerate(body["inputs"])]
    if tail is not None and at[0] != len(tail):
        raise InputError(
            f"the body has {len(tail)} bytes after its JSON, and the inputs' "
            f"binary_data_size add up to {at[0]}",
            status=400,
            code="bad_tensor",
        )
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


def _tensor(spec: Any, index: int, tail: bytes | None, at: list[int]) -> Tensor:
    """One input tensor; its values read from `tail` at `at[0]` (moved past them) when
    its parameters give a binary_data_size."""
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
    expected = math.prod(shape)
    size = _binary_size(spec, index, name, tail)
    if size is not None and tail is not None:
        if at[0] + size > len(tail):
            raise InputError(
                f"inputs[{index}] ({name}): binary_data_size {size} runs past the body's "
                f"{len(tail)} bytes of binary data",
                status=400,
                code="bad_tensor",
            )
        raw, at[0] = tail[at[0] : at[0] + size], at[0] + size
        return (
            name,
            shape,
            datatype,
            read_values(raw, datatype, expected, f"inputs[{index}] ({name})"),
        )
    values = _flatten(data)
    if len(values) != expected:
        raise InputError(
            f"inputs[{index}] ({name}): shape {shape} needs {expected} value(s), "
            f"data has {len(values)}",
            status=400,
            code="bad_tensor",
        )
    return name, shape, datatype, values


def _binary_size(spec: dict[str, Any], index: int, name: str, tail: bytes | None) -> int | None:
    """An input's binary_data_size parameter, checked; None when it has none."""
    parameters = spec.get("parameters")
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(
            f"inputs[{index}] ({name}): binary_data_size must be a non-negative integer, "
            f"got {show_value(size)}",
            status=400,
            code="bad_tensor",
        )
    if tail is None:
        raise InputError(
            f"inputs[{index}] ({name}) gives a binary_data_size, but the request has no "
            "Inference-Header-Content-Length header saying where its JSON ends",
            status=400,
            code="bad_tensor",
        )
    return size


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
