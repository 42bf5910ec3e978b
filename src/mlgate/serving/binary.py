"""The KServe V2 binary tensor data extension: tensors as raw bytes after the JSON.

A tensor sent so has `"parameters": {"binary_data_size": n}` and no `data`: its
values are the next n bytes after the JSON object, little-endian, row-major, a
BOOL one byte, a BYTES element a 4-byte length and then its bytes (Triton's
`docs/protocol/extension_binary_data.md`). tritonclient sends every input so
by default, and asks for every output so (`binary_data_output`) unless it names
the outputs it wants.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlgate.errors import InputError

__all__ = ["EXTENSION", "read_values", "wants_binary", "write_values"]

#: The extension's name in the server metadata's `extensions`.
EXTENSION = "binary_tensor_data"

#: Each fixed-size datatype's numpy type, little-endian.
_NUMPY: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
_LENGTH = struct.Struct("<I")


def read_values(raw: bytes, datatype: str, count: int, where: str) -> list[Any]:
    """The `count` values of a tensor of `datatype` held in `raw`; `where` names the
    tensor in a refusal (400)."""
    if datatype == "BYTES":
        return _read_bytes(raw, count, where)
    kind = np.dtype(_NUMPY[datatype])
    if len(raw) != count * kind.itemsize:
        raise InputError(
            f"{where}: {count} {datatype} value(s) take {count * kind.itemsize} bytes, "
            f"binary_data_size gives {len(raw)}",
            status=400,
            code="bad_tensor",
        )
    values: list[Any] = np.frombuffer(raw, dtype=kind).tolist()
    return values


def _read_bytes(raw: bytes, count: int, where: str) -> list[Any]:
    """BYTES elements: each a 4-byte length, then that many bytes of UTF-8 text."""
    values: list[Any] = []
    at = 0
    while at < len(raw):
        if at + 4 > len(raw):
            raise _cut(where, len(values))
        (size,) = _LENGTH.unpack_from(raw, at)
        at += 4
        if at + size > len(raw):
            raise _cut(where, len(values))
        try:
            values.append(raw[at : at + size].decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(
                f"{where}: element {len(values)} is not UTF-8 text; BYTES features are "
                "read as text",
                status=400,
                code="bad_tensor",
            ) from None
        at += size
    if len(values) != count:
        raise InputError(
            f"{where}: the shape needs {count} value(s), the binary data holds {len(values)}",
            status=400,
            code="bad_tensor",
        )
    return values


def _cut(where: str, element: int) -> InputError:
    return InputError(
        f"{where}: BYTES element {element} runs past the tensor's binary_data_size; each "
        "element is a 4-byte little-endian length, then its bytes",
        status=400,
        code="bad_tensor",
    )


def write_values(values: Sequence[Any] | np.ndarray[Any, Any], datatype: str) -> bytes:
    """`values` as the extension's bytes for `datatype`."""
    if datatype == "BYTES":
        parts = []
        for value in values:
            text = str(value).encode("utf-8")
            parts.append(_LENGTH.pack(len(text)))
            parts.append(text)
        return b"".join(parts)
    return np.asarray(values, dtype=_NUMPY[datatype]).tobytes()


def wants_binary(body: dict[str, Any], requested: dict[str, Any]) -> set[str]:
    """The outputs to send as binary data: those whose own `binary_data` parameter is
    true, or all not set false when the request's `binary_data_output` is true.

    `requested` maps each output the request names to its parameters (empty when it
    names none)."""
    parameters = body.get("parameters")
    every = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    chosen = set()
    for name, own in requested.items():
        given = own.get("binary_data") if isinstance(own, dict) else None
        if given is True or (given is None and every):
            chosen.add(name)
    return chosen
