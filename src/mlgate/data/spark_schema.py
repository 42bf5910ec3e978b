"""Schema inference on Spark: the local engine's rules, measured in one pass over the data.

Each partition measures its columns (missing values, whether a float column
holds ±inf, the 11 smallest and largest finite values of a numeric column, up to
MAX_CATEGORIES + 1 distinct texts of a text column) and sends the driver only
that; the driver merges the partitions' measures and turns them into rules with
the local engine's own code (`column_rules_from`, `bounds_from`), so the schema
is the one the local engine infers from the same data. Duplicates are counted
with a distinct count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlgate.data.infer import (
    MAX_CATEGORIES,
    bounds_from,
    column_rules_from,
    dataset_rules_from,
    inner_rank,
)
from mlgate.data.schema import ColumnSchema, Dtype, Schema
from mlgate.data.spark import column as named
from mlgate.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

__all__ = ["infer_schema_spark"]

#: The most values in from each extreme `bounds_from` needs (`inner_rank` is at most 10).
_ENDS = 11


def _dtype(data_type: Any) -> Dtype | None:
    """The schema dtype of a Spark column type, as the local engine names polars'."""
    from pyspark.sql import types as T

    if isinstance(data_type, T.ByteType | T.ShortType | T.IntegerType | T.LongType):
        return "int"
    if isinstance(data_type, T.FloatType | T.DoubleType):
        return "float"
    if isinstance(data_type, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "datetime"
    if isinstance(data_type, T.BooleanType):
        return "bool"
    return None if isinstance(data_type, T.NullType) else "string"


def _measure(batch: pa.RecordBatch, kinds: dict[str, Dtype | None]) -> dict[str, Any]:
    """One batch's measures of each column (see the module's docstring)."""
    import polars as pl

    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    found: dict[str, Any] = {"rows": frame.height, "columns": {}}
    for name, dtype in kinds.items():
        series = frame.get_column(name)
        floats = series.dtype.is_float()
        if floats:
            series = series.fill_nan(None)
        measure: dict[str, Any] = {"missing": series.null_count()}
        if dtype in ("int", "float"):
            finite = series.filter(series.is_finite()) if floats else series.drop_nulls()
            measure["count"] = finite.len()
            measure["low"] = finite.bottom_k(_ENDS).sort().to_list()
            measure["high"] = finite.top_k(_ENDS).sort(descending=True).to_list()
            measure["inf"] = floats and bool(series.is_infinite().any())
        elif dtype == "string":
            distinct = series.drop_nulls().unique()
            known = distinct.len() <= MAX_CATEGORIES
            measure["distinct"] = [str(v) for v in distinct.to_list()] if known else None
        found["columns"][name] = measure
    return found


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two parts' measures as those of both."""
    merged: dict[str, Any] = {"rows": a["rows"] + b["rows"], "columns": {}}
    for name, x in a["columns"].items():
        y = b["columns"][name]
        both: dict[str, Any] = {"missing": x["missing"] + y["missing"]}
        if "count" in x:
            both["count"] = x["count"] + y["count"]
            both["low"] = sorted(x["low"] + y["low"])[:_ENDS]
            both["high"] = sorted(x["high"] + y["high"], reverse=True)[:_ENDS]
            both["inf"] = x["inf"] or y["inf"]
        elif "distinct" in x:
            known = x["distinct"] is not None and y["distinct"] is not None
            union = sorted(set(x["distinct"]) | set(y["distinct"])) if known else None
            both["distinct"] = union if union is not None and len(union) <= MAX_CATEGORIES else None
        merged["columns"][name] = both
    return merged


class _Partition:
    """What each partition does: measure its batches and send one JSON line."""

    def __init__(self, kinds: dict[str, Dtype | None]) -> None:
        self.kinds = kinds

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        total: dict[str, Any] | None = None
        for batch in batches:
            found = _measure(batch, self.kinds)
            total = found if total is None else _merge(total, found)
        if total is not None:
            yield pa.RecordBatch.from_pylist([{"m": json.dumps(total)}])


def infer_schema_spark(frame: DataFrame, *, source: str | None = None) -> tuple[Schema, int]:
    """A schema `frame` satisfies, the local engine's for the same data; and its rows."""
    from pyspark.sql import functions as F

    kinds = {f.name: _dtype(f.dataType) for f in frame.schema.fields}
    # Partitions see the columns by position: mapInArrow cannot pass a name with a dot.
    plain_names = [f"c{i}" for i in range(len(kinds))]
    by_position = dict(zip(plain_names, kinds.values(), strict=True))
    parts = frame.toDF(*plain_names).mapInArrow(_Partition(by_position), "m string").collect()
    measured = [json.loads(r["m"]) for r in parts]
    for part in measured:
        part["columns"] = dict(zip(kinds, part["columns"].values(), strict=True))
    total = measured[0] if measured else None
    for part in measured[1:]:
        total = _merge(total, part)  # type: ignore[arg-type]
    rows = 0 if total is None else int(total["rows"])
    if not kinds or rows == 0:
        raise DataError(
            "the data has no columns." if not kinds else "the data has a header but no rows.",
            source=source,
            fix="A schema is inferred from rows: give a file that has some.",
        )
    assert total is not None
    columns: dict[str, ColumnSchema] = {}
    for name, dtype in kinds.items():
        measure = total["columns"][name]
        bounds = None
        if measure.get("count"):
            inner = inner_rank(measure["count"])
            low, high = measure["low"], measure["high"]
            values = (low[0], low[inner], high[inner], high[0])
            bounds = bounds_from(*(float(v) for v in values), integer=dtype == "int")
        columns[name] = column_rules_from(
            dtype,
            rows,
            measure["missing"],
            bounds=bounds,
            infinite=bool(measure.get("inf")),
            distinct=measure.get("distinct"),
        )
    plain = frame.select(
        *[
            F.when(F.isnan(named(n)), F.lit(None)).otherwise(named(n)).alias(n)
            if kinds[n] == "float"
            else named(n)
            for n in kinds
        ]
    )
    duplicates = rows - plain.distinct().count() if rows > 1 else 0
    return Schema(columns=columns, dataset=dataset_rules_from(rows, duplicates)), rows
