"""Request bodies into feature columns, checked against the served version's schema.

Every refusal is an `InputError` with an HTTP status and a message that says
what was wrong and where (which row, which feature); the app turns it into a
JSON 4xx response. Nothing here trusts the shape of the JSON it is given.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlgate.errors import InputError
from mlgate.serving.runtime import Columns, ServedModel
from mlgate.training.preprocessing import MISSING

__all__ = [
    "Batch",
    "CsvText",
    "InputError",
    "from_columns",
    "from_csv",
    "from_records",
    "from_rows",
    "is_csv",
    "parse_v2",
    "show_value",
]

Array = np.ndarray[Any, Any]
_NUMBER = (int, float)
_PLAIN = frozenset({int, float})
_LIST = frozenset({list})
#: Numbers as text (V2 BYTES tensors carry them so): JSON's number syntax, or nan/inf words.
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.I)
#: The largest magnitude a feature may have: ONNX Runtime computes in 32-bit floats, and a
#: larger number would silently become infinite there.
LARGEST = float(np.finfo(np.float32).max)


@dataclass(frozen=True, slots=True)
class Batch:
    """Checked feature columns for `rows` rows, in the model's feature order."""

    columns: dict[str, Array]
    rows: int

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts (for the prediction log); missing numbers become None."""
        names = list(self.columns)
        lists = [self.columns[n].tolist() for n in names]
        out = []
        for i in range(self.rows):
            row = {}
            for name, values in zip(names, lists, strict=True):
                value = values[i]
                row[name] = None if isinstance(value, float) and value != value else value
            out.append(row)
        return out


def _numeric(model: ServedModel, name: str, values: list[Any]) -> Array:
    rules = model.schema.columns.get(name) if model.schema else None
    allow_inf = bool(rules and rules.allow_inf)
    nullable = rules.nullable if rules else True
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None:
            if not nullable:
                raise InputError(
                    f"feature {name!r} in row {i} is null, but the schema says it may not be "
                    "missing (nullable: false); send a number",
                    row=i,
                    feature=name,
                    code="missing_value",
                )
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
                raise InputError(
                    f"feature {name!r} in row {i} is NaN, but the schema says it may not be "
                    "missing (nullable: false); send a number",
                    row=i,
                    feature=name,
                    code="missing_value",
                )
        elif math.isinf(number):
            if not allow_inf:
                raise InputError(
                    f"feature {name!r} in row {i} is infinite, or too large to be a finite "
                    f"number; send a number between -{LARGEST:.3g} and {LARGEST:.3g}",
                    row=i,
                    feature=name,
                    code="not_finite",
                )
        elif abs(number) > LARGEST:
            raise InputError(
                f"feature {name!r} in row {i} is {number:.3g}, out of range; send a number "
                f"between -{LARGEST:.3g} and {LARGEST:.3g}",
                row=i,
                feature=name,
                code="out_of_range",
            )
        out[i] = number
    return out


def _categorical(model: ServedModel, name: str, values: list[Any]) -> Array:
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


def _kind(value: Any) -> str:
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


#: What pandas' read_csv (and so MLflow's own server) reads as a missing value.
_CSV_MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)


@dataclass(frozen=True)
class CsvText:
    """A request body sent as text/csv, not parsed yet."""

    raw: bytes


def is_csv(content_type: str | None) -> bool:
    """Whether a Content-Type header says CSV (text/csv, with or without parameters)."""
    if content_type is None or "csv" not in content_type.lower():  # the usual JSON request
        return False
    return content_type.split(";", 1)[0].strip().lower() in (
        "text/csv",
        "application/csv",
    )


def from_csv(model: ServedModel, raw: bytes, *, limit: int) -> Batch:
    """A batch from CSV text as pandas writes it: a header of feature names, then rows;
    an empty field is a missing value. Row numbers in errors count data rows from 0."""
    import csv
    import io

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"the CSV body is not UTF-8 text (byte {e.start})", status=400, code="bad_csv"
        ) from None
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise InputError(f"the CSV body cannot be read: {e}", status=400, code="bad_csv") from None
    table = [row for row in table if row]  # blank lines
    if not table:
        raise InputError(
            "the CSV body is empty; send a header of feature names, then rows",
            status=400,
            code="bad_csv",
        )
    header, rows = table[0], table[1:]
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(
            f"the CSV header names {', '.join(map(repr, twice))} more than once",
            code="wrong_features",
            feature=twice[0],
        )
    expected = f"send a header ({', '.join(model.features)}), then one line per row"
    if not set(header) & model.feature_set:
        raise InputError(
            "the CSV's first line is read as the header of feature names, and it names none "
            f"of the model's features; {expected}",
            status=400,
            code="bad_csv",
        )
    if not rows:
        raise InputError(
            f"the CSV has a header but no row after it; {expected}", status=400, code="empty"
        )
    _check_rows(len(rows), limit)
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise InputError(
                f"CSV row {i} has {len(row)} value(s) but the header names {len(header)}",
                row=i,
                code="bad_csv",
            )
    columns = {
        name: [None if value in _CSV_MISSING else value for value in values]
        for name, values in zip(header, zip(*rows, strict=True), strict=True)
    }
    return from_columns(model, columns, limit=limit)


def from_columns(model: ServedModel, columns: dict[str, Any], *, limit: int) -> Batch:
    """A batch from one list of values per feature name."""
    features = model.features
    if columns.keys() != model.feature_set:  # else nothing is missing or unknown
        _check_names(model, columns)
    given = [columns[name] for name in features]
    lengths = set(map(len, given)) if _LIST.issuperset(map(type, given)) else set()
    rows = lengths.pop() if len(lengths) == 1 else _check_shapes(features, given)
    _check_rows(rows, limit)
    numeric = model.numeric_order
    everything = len(numeric) == len(features)  # numeric_order keeps the features' order
    block = _plain_numbers(given if everything else [columns[name] for name in numeric])
    if block is not None:  # every number is fine: no per-value checks needed
        if everything:
            return Batch(Columns(zip(features, block, strict=True), block, numeric), rows)
        at = {name: j for j, name in enumerate(numeric)}
        mixed = (
            (name, block[at[name]] if name in at else _categorical(model, name, columns[name]))
            for name in features
        )
        return Batch(Columns(mixed, block, numeric), rows)
    built = {
        name: _numeric(model, name, columns[name])
        if name in model.numeric
        else _categorical(model, name, columns[name])
        for name in features
    }
    return Batch(built, rows)


def from_plain_rows(model: ServedModel, rows: list[Any], *, limit: int) -> Batch | None:
    """A batch from rows of plain numbers in the model's feature order, for a model whose
    features are all numeric; None when that is not so, and the general checks take over.

    The usual request (MLflow's dataframe_split naming the features in model order,
    numbers only) goes from the parsed rows to one block without building columns.
    """
    numeric = model.numeric_order
    if len(numeric) != len(model.features) or not rows:
        return None
    if not all(type(row) is list and len(row) == len(numeric) for row in rows):
        return None
    _check_rows(len(rows), limit)
    block = _plain_numbers(rows)
    if block is None:
        return None
    block = np.ascontiguousarray(block.T)  # [feature, row], as `Columns` holds it
    return Batch(Columns(zip(numeric, block, strict=True), block, numeric), len(rows))


def _check_names(model: ServedModel, columns: dict[str, Any]) -> None:
    features = model.features
    missing = [f for f in features if f not in columns]
    unknown = [c for c in columns if c not in model.card.kinds]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing feature(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown feature(s): {', '.join(map(str, unknown))}")
        raise InputError(
            f"{'; '.join(parts)}. The model takes: {', '.join(features)}",
            code="wrong_features",
            feature=(missing or unknown)[0],
        )


def _check_shapes(features: list[str], given: list[Any]) -> int:
    """The number of rows, when every feature has a list of as many values; else the
    refusal names a feature that is no list, or one whose count differs from most."""
    for name, values in zip(features, given, strict=True):
        if not isinstance(values, list):
            raise InputError(
                f"feature {name!r} must be a list of values, got {_kind(values)}",
                feature=name,
                code="bad_shape",
            )
    counts = [len(values) for values in given]
    usual = max(counts, key=counts.count)  # the count most features have
    if counts.count(usual) * 2 <= len(counts):  # no majority: naming one would mislead
        shown = ", ".join(f"{n} {c}" for n, c in zip(features, counts, strict=True))
        raise InputError(
            f"every feature needs as many values as the others; the counts are: {shown}",
            code="bad_shape",
        )
    for name, count in zip(features, counts, strict=True):
        if count != usual:
            raise InputError(
                f"feature {name!r} has {count} value(s) but the others have {usual}",
                feature=name,
                code="bad_shape",
            )
    return usual


def _plain_numbers(lists: list[list[Any]]) -> Array | None:
    """Numeric features as one float64 [feature, row] block, when every value is a
    plain int or float that `_numeric` would take as it is (finite, within float32's
    range); None otherwise, and `_numeric` checks them one by one (and says what is wrong).
    """
    if not lists:
        return None
    if len(lists) == 1 and _PLAIN.issuperset(map(type, lists[0])):  # one row: no chain
        block = np.array(lists, dtype=np.float64)
        return block if (np.abs(block) <= LARGEST).all() else None
    if not _PLAIN.issuperset(map(type, itertools.chain.from_iterable(lists))):
        return None  # null, text, booleans...
    try:
        block = np.array(lists, dtype=np.float64)
    except (OverflowError, ValueError):  # an integer too large for a float
        return None
    if not (np.abs(block) <= LARGEST).all():  # NaN, infinite or out of range
        return None
    return block


def _check_rows(rows: int, limit: int) -> None:
    if rows <= 0:
        raise InputError("the request has no rows; send at least one", code="empty")
    if rows > limit:
        raise InputError(
            f"the request has {rows} rows; at most {limit} are accepted per request "
            "(MLGATE_MAX_BATCH_ROWS): split it into smaller requests",
            status=413,
            code="too_many_rows",
        )


def from_rows(model: ServedModel, rows: Any, *, limit: int) -> Batch:
    """A batch from rows given as lists in feature order, or as records."""
    if not isinstance(rows, list):
        raise InputError(f"expected a list of rows, got {_kind(rows)}", status=400, code="bad_body")
    if rows and all(isinstance(r, dict) for r in rows):
        return from_records(model, rows, limit=limit)
    features = model.features
    _check_rows(len(rows), limit)
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise InputError(
                f"row {i} must be a list of {len(features)} values in the order "
                f"{', '.join(features)}, or an object of feature: value; got {_kind(row)}",
                row=i,
                code="bad_shape",
            )
        if len(row) != len(features):
            raise InputError(
                f"row {i} has {len(row)} value(s); the model takes {len(features)}: "
                f"{', '.join(features)}",
                row=i,
                code="wrong_features",
            )
    # Every row is a list of len(features) values: transpose them into columns.
    columns = map(list, zip(*rows, strict=True))
    return from_columns(model, dict(zip(features, columns, strict=True)), limit=limit)


def from_records(model: ServedModel, records: Any, *, limit: int) -> Batch:
    """A batch from a list of {feature: value} objects."""
    if not isinstance(records, list):
        raise InputError(
            f"expected a list of records, got {_kind(records)}",
            status=400,
            code="bad_body",
        )
    _check_rows(len(records), limit)
    features = model.features
    known = model.card.kinds
    columns: dict[str, list[Any]] = {name: [] for name in features}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(
                f"row {i} must be an object of feature: value, got {_kind(record)}",
                row=i,
                code="bad_shape",
            )
        missing = [f for f in features if f not in record]
        unknown = [k for k in record if k not in known]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing feature(s): {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown feature(s): {', '.join(map(str, unknown))}")
            raise InputError(
                f"row {i}: {'; '.join(parts)}. The model takes: {', '.join(features)}",
                row=i,
                feature=(missing or unknown)[0],
                code="wrong_features",
            )
        for name in features:
            columns[name].append(record[name])
    return from_columns(model, columns, limit=limit)


_V2_TYPES = {
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
}


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


def _tensor(spec: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
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
    if not isinstance(datatype, str) or datatype not in _V2_TYPES:
        raise InputError(
            f"inputs[{index}] ({name}): unknown datatype {show_value(datatype)}; one of "
            f"{', '.join(sorted(_V2_TYPES))}",
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
    features = model.features
    if len(tensors) == 1 and tensors[0][0] not in model.card.kinds:
        name, shape, _, values = tensors[0]
        if len(shape) != 2 or shape[1] != len(features):
            raise InputError(
                f"a single input tensor ({name}) must have shape [rows, {len(features)}] "
                f"with the features in order: {', '.join(features)}; got {shape}",
                code="wrong_features",
            )
        rows = shape[0]
        _check_rows(rows, limit)
        width = len(features)
        columns = {f: values[j::width] for j, f in enumerate(features)}
        return from_columns(model, columns, limit=limit)
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
