"""A request's rows as checked feature columns: the `Batch` every protocol predicts on.

Each protocol decodes its body into columns, rows or records; the functions
here check their shape against the served version's features and build the
batch. Every refusal is an `InputError` with an HTTP status and a message that
says what was wrong and where (which row, which feature). Nothing here trusts
the shape of the JSON it is given.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlgate.errors import InputError
from mlgate.serving.coercion import LARGEST, categorical, kind, listed, numeric
from mlgate.serving.runtime import Columns, ServedModel

__all__ = [
    "Batch",
    "check_rows",
    "first_repeat",
    "from_columns",
    "from_plain_rows",
    "from_records",
    "from_rows",
]

Array = np.ndarray[Any, Any]
_PLAIN = frozenset({int, float})
_LIST = frozenset({list})


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


def from_columns(model: ServedModel, columns: dict[str, Any], *, limit: int) -> Batch:
    """A batch from one list of values per feature name."""
    return _whole(model, _from_columns(model, columns, limit=limit))


def _whole(model: ServedModel, batch: Batch) -> Batch:
    """`batch`, once every value of an integer feature (schema dtype int) is a whole
    number: 41, 41.0 and "41" are the integer 41; 41.5 is refused, naming row and feature."""
    for name in model.integers:
        values = batch.columns[name]
        broken = np.isfinite(values) & (values != np.floor(values))
        if broken.any():
            row = int(np.argmax(broken))
            raise InputError(
                f"feature {name!r} in row {row} must be a whole number (the schema says "
                f"dtype: int), got {values[row].item()!r}",
                row=row,
                feature=name,
                code="not_an_integer",
            )
    return batch


def _from_columns(model: ServedModel, columns: dict[str, Any], *, limit: int) -> Batch:
    features = model.features
    if columns.keys() != model.feature_set:  # else nothing is missing or unknown
        _check_names(model, columns)
    given = [columns[name] for name in features]
    lengths = set(map(len, given)) if _LIST.issuperset(map(type, given)) else set()
    rows = lengths.pop() if len(lengths) == 1 else _check_shapes(features, given)
    check_rows(rows, limit)
    numeric_order = model.numeric_order
    everything = len(numeric_order) == len(features)  # numeric_order keeps the features' order
    block = _plain_numbers(given if everything else [columns[name] for name in numeric_order])
    if block is not None:  # every number is fine: no per-value checks needed
        if everything:
            return Batch(Columns(zip(features, block, strict=True), block, numeric_order), rows)
        at = {name: j for j, name in enumerate(numeric_order)}
        mixed = (
            (name, block[at[name]] if name in at else categorical(model, name, columns[name]))
            for name in features
        )
        return Batch(Columns(mixed, block, numeric_order), rows)
    built = {
        name: numeric(model, name, columns[name])
        if name in model.numeric
        else categorical(model, name, columns[name])
        for name in features
    }
    return Batch(built, rows)


def from_plain_rows(model: ServedModel, rows: list[Any], *, limit: int) -> Batch | None:
    """A batch from rows of plain numbers in the model's feature order, for a model whose
    features are all numeric; None when that is not so, and the general checks take over.

    The usual request (MLflow's dataframe_split naming the features in model order,
    numbers only) goes from the parsed rows to one block without building columns.
    """
    numeric_order = model.numeric_order
    if len(numeric_order) != len(model.features) or not rows:
        return None
    if not all(type(row) is list and len(row) == len(numeric_order) for row in rows):
        return None
    check_rows(len(rows), limit)
    block = _plain_numbers(rows)
    if block is None:
        return None
    block = np.ascontiguousarray(block.T)  # [feature, row], as `Columns` holds it
    columns = Columns(zip(numeric_order, block, strict=True), block, numeric_order)
    return _whole(model, Batch(columns, len(rows)))


def from_rows(model: ServedModel, rows: Any, *, limit: int) -> Batch:
    """A batch from rows given as lists in feature order, or as records."""
    if not isinstance(rows, list):
        raise InputError(f"expected a list of rows, got {kind(rows)}", status=400, code="bad_body")
    if rows and all(isinstance(r, dict) for r in rows):
        return from_records(model, rows, limit=limit)
    features = model.features
    check_rows(len(rows), limit)
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise InputError(
                f"row {i} must be a list of {len(features)} values in the order "
                f"{', '.join(features)}, or an object of feature: value; got {kind(row)}",
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
            f"expected a list of records, got {kind(records)}",
            status=400,
            code="bad_body",
        )
    check_rows(len(records), limit)
    features = model.features
    known = model.card.kinds
    columns: dict[str, list[Any]] = {name: [] for name in features}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(
                f"row {i} must be an object of feature: value, got {kind(record)}",
                row=i,
                code="bad_shape",
            )
        missing = [f for f in features if f not in record]
        unknown = [k for k in record if k not in known]
        if missing or unknown:
            raise InputError(
                f"row {i}: {_names_wrong(missing, unknown)}. The model takes: "
                f"{', '.join(features)}",
                row=i,
                feature=(missing or unknown)[0],
                code="wrong_features",
            )
        for name in features:
            columns[name].append(record[name])
    return from_columns(model, columns, limit=limit)


def check_rows(rows: int, limit: int) -> None:
    """Refuse a request of no rows, or of more than `limit` (MLGATE_MAX_BATCH_ROWS)."""
    if rows <= 0:
        raise InputError("the request has no rows; send at least one", code="empty")
    if rows > limit:
        raise InputError(
            f"the request has {rows} rows; at most {limit} are accepted per request "
            "(MLGATE_MAX_BATCH_ROWS): split it into smaller requests",
            status=413,
            code="too_many_rows",
        )


def _names_wrong(missing: list[str], unknown: list[Any]) -> str:
    """What is wrong with a set of feature names, as a refusal says it."""
    parts = []
    if missing:
        parts.append(f"missing feature(s): {listed(missing, quoted=False)}")
    if unknown:
        parts.append(f"unknown feature(s): {listed(unknown, quoted=False)}")
    return "; ".join(parts)


def first_repeat(names: Iterable[str]) -> str | None:
    """The first name that comes twice in `names`, or None (in one pass: a request may
    name thousands of columns)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _check_names(model: ServedModel, columns: dict[str, Any]) -> None:
    features = model.features
    missing = [f for f in features if f not in columns]
    unknown = [c for c in columns if c not in model.card.kinds]
    if missing or unknown:
        raise InputError(
            f"{_names_wrong(missing, unknown)}. The model takes: {', '.join(features)}",
            code="wrong_features",
            feature=(missing or unknown)[0],
        )


def _check_shapes(features: list[str], given: list[Any]) -> int:
    """The number of rows, when every feature has a list of as many values; else the
    refusal names a feature that is no list, or one whose count differs from most."""
    for name, values in zip(features, given, strict=True):
        if not isinstance(values, list):
            raise InputError(
                f"feature {name!r} must be a list of values, got {kind(values)}",
                feature=name,
                code="bad_shape",
            )
    counts = [len(values) for values in given]
    usual, most = Counter(counts).most_common(1)[0]  # the count most features have
    if most * 2 <= len(counts):  # no majority: naming one would mislead
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
    plain int or float that `coercion.numeric` would take as it is (finite, within
    float32's range); None otherwise, and `coercion.numeric` checks them one by one
    (and says what is wrong).
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
