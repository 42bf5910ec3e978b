"""One feature's values, checked one by one against the served version's schema.

`numeric` and `categorical` turn a feature's JSON values into its column;
every refusal is an `InputError` that names the feature, the row and the value.
Batches whose numbers are all plain take a quicker way (`batch.from_columns`)
and only come here when some value needs a look.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from mlgate.errors import InputError
from mlgate.serving.runtime import ServedModel
from mlgate.training.preprocessing import MISSING

__all__ = ["LARGEST", "categorical", "kind", "listed", "numeric", "show_value"]

Array = np.ndarray[Any, Any]
_NUMBER = (int, float)
#: Numbers as text (V2 BYTES tensors carry them so): JSON's number syntax, or nan/inf words;
#: ASCII digits only: Python's float() also reads "٣" (an Arabic-Indic 3) as 3.
_NUMBER_TEXT = re.compile(
    r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)", re.I
)
#: The largest magnitude a feature may have: ONNX Runtime computes in 32-bit floats, and a
#: larger number would silently become infinite there.
LARGEST = float(np.finfo(np.float32).max)


def numeric(model: ServedModel, name: str, values: list[Any]) -> Array:
    """Feature `name`'s values as float64, NaN for a missing one (where the schema allows)."""
    rules = model.schema.columns.get(name) if model.schema else None
    allow_inf = bool(rules and rules.allow_inf)
    nullable = rules.nullable if rules else True
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None:
            if not nullable:
                raise _missing(name, i, "null")
            out[i] = math.nan
            continue
        if type(value) is not float and type(value) is not int:
            if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
                value = float(value)
            elif type(value) is bool or not isinstance(value, _NUMBER):
                raise InputError(
                    f"feature {name!r} in row {i} must be a number, got {show_value(value)}",
                    row=i,
                    feature=name,
                    code="not_a_number",
                )
        try:
            number = float(value)
        except OverflowError:  # an integer too long for a float
            number = math.inf if value > 0 else -math.inf
        if math.isnan(number):
            if not nullable:
                raise _missing(name, i, "NaN")
        elif math.isinf(number):
            if not allow_inf:
                raise _too_large(name, i, None)
        elif abs(number) > LARGEST:
            raise _too_large(name, i, number)
        out[i] = number
    return out


def _missing(name: str, row: int, what: str) -> InputError:
    return InputError(
        f"feature {name!r} in row {row} is {what}, but the schema says it may not be "
        "missing (nullable: false); send a number",
        row=row,
        feature=name,
        code="missing_value",
    )


def _too_large(name: str, row: int, number: float | None) -> InputError:
    """The refusal of an infinite number (`number` None) or of one past float32's range."""
    allowed = f"send a number between -{LARGEST:.3g} and {LARGEST:.3g}"
    if number is None:
        return InputError(
            f"feature {name!r} in row {row} is infinite, or too large to be a finite "
            f"number; {allowed}",
            row=row,
            feature=name,
            code="not_finite",
        )
    return InputError(
        f"feature {name!r} in row {row} is {number:.3g}, out of range; {allowed}",
        row=row,
        feature=name,
        code="out_of_range",
    )


def categorical(model: ServedModel, name: str, values: list[Any]) -> Array:
    """Feature `name`'s values as text categories, `MISSING` for a missing one."""
    rules = model.schema.columns.get(name) if model.schema else None
    nullable = rules.nullable if rules else True
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if value is None:
            if not nullable:
                raise InputError(
                    f"feature {name!r} in row {i} is missing, but the schema says it may not "
                    "be (nullable: false); send a category",
                    row=i,
                    feature=name,
                    code="missing_value",
                )
            out[i] = MISSING
        elif isinstance(value, str | int | float | bool):
            out[i] = str(value)
        else:
            raise InputError(
                f"feature {name!r} in row {i} must be a text or number category, "
                f"got {show_value(value)}",
                row=i,
                feature=name,
                code="not_a_category",
            )
    return out


def show_value(value: Any) -> str:
    """`value` as the client wrote it (JSON), cut short."""
    if isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    else:
        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def listed(names: Iterable[Any], *, quoted: bool = True, most: int = 10) -> str:
    """`names` for a message, comma-separated: the first `most`, each cut short, then how
    many more (a request may name thousands)."""
    shown: list[str] = []
    more = 0
    for name in names:
        if len(shown) == most:
            more += 1
            continue
        text = str(name)
        text = text if len(text) <= 60 else text[:57] + "..."
        shown.append(repr(text) if quoted else text)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def kind(value: Any) -> str:
    """What JSON calls `value`'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__
