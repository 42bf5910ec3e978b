"""Profiles of Spark DataFrames: the drift statistics computed where the data is.

A numeric column's count, missing count, mean and standard deviation come from
one aggregation; its 2,001 order statistics from Spark's quantile sketch
(`percentile_approx`, Greenwald-Khanna) with a relative error of
`RELATIVE_ERROR` in rank: each returned value's rank is within 0.0001 x n of the
exact one, so the sketch's CDF is within 1/2,000 + 0.0001 of the data's (the
local profile's is within 1/2,000). A column of at most 2,001 values keeps them
all, as the local profile does. A categorical column's counts come from one
`groupBy` over every categorical column at once. Only these summaries reach the
driver, never the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.data.spark import column as named
from mlgate.drift.profile import SKETCH, ColumnProfile, Profile
from mlgate.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["RELATIVE_ERROR", "spark_kind", "spark_kinds", "spark_profile"]

#: The quantile sketch's relative error in rank (Spark's `percentile_approx` accuracy
#: is its inverse).
RELATIVE_ERROR = 1e-4


def spark_kind(data_type: Any) -> str | None:
    """numeric for integer and float columns, categorical for the rest (as the local
    engine reads Arrow columns); None for a column of missing values only."""
    from pyspark.sql import types as T

    if isinstance(data_type, T.NullType):
        return None
    numeric = T.ByteType | T.ShortType | T.IntegerType | T.LongType | T.FloatType | T.DoubleType
    return "numeric" if isinstance(data_type, numeric) else "categorical"


def spark_kinds(reference: DataFrame, current: DataFrame, names: list[str]) -> dict[str, str]:
    """Each column's kind, the same on both sides or a DataError."""
    kinds = {}
    for name in names:
        ref_type, cur_type = reference.schema[name].dataType, current.schema[name].dataType
        ref, cur = spark_kind(ref_type), spark_kind(cur_type)
        if ref is not None and cur is not None and ref != cur:
            raise DataError(
                f"column {name!r} is {ref} ({ref_type.simpleString()}) in the reference but "
                f"{cur} ({cur_type.simpleString()}) in the current data.",
                fix="Compare data whose columns hold the same kind of values.",
            )
        kinds[name] = ref or cur or "numeric"
    return kinds


def _finite(frame: DataFrame, name: str) -> Column:
    """The column as doubles, with NaN and ±inf as missing."""
    from pyspark.sql import functions as F

    value = named(name).cast("double")
    return F.when(~F.isnan(value) & ~value.isin(float("inf"), float("-inf")), value)


def _text(frame: DataFrame, name: str) -> Column:
    """A categorical column's values as the local engine names them (Python's `str`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    column, data_type = named(name), frame.schema[name].dataType
    if isinstance(data_type, T.BooleanType):
        return F.when(column, F.lit("True")).when(~column, F.lit("False"))
    if isinstance(data_type, T.FloatType | T.DoubleType):
        whole = (column == F.floor(column)) & (F.abs(column) < 2.0**53)
        return F.when(whole, column.cast("long").cast("string")).otherwise(column.cast("string"))
    return column.cast("string")


def spark_profile(frame: DataFrame, kinds: dict[str, str]) -> Profile:
    """The profile of `frame`'s columns named in `kinds` (numeric or categorical)."""
    from pyspark.sql import functions as F

    numeric = [n for n, k in kinds.items() if k == "numeric"]
    categorical = [n for n, k in kinds.items() if k == "categorical"]
    values = {n: _finite(frame, n) for n in numeric}
    levels = [i / (SKETCH - 1) for i in range(SKETCH)]
    accuracy = round(1 / RELATIVE_ERROR)
    first = frame.agg(
        F.count(F.lit(1)).alias("rows"),
        *[F.count(values[n]).alias(f"c{i}") for i, n in enumerate(numeric)],
        *[
            F.percentile_approx(values[n], levels, accuracy).alias(f"q{i}")
            for i, n in enumerate(numeric)
        ],
        *[F.avg(values[n]).alias(f"a{i}") for i, n in enumerate(numeric)],
        *[F.stddev_pop(values[n]).alias(f"s{i}") for i, n in enumerate(numeric)],
        *[F.count(named(n)).alias(f"k{i}") for i, n in enumerate(categorical)],
    ).collect()[0]
    rows = int(first["rows"])
    counts = {n: int(first[f"c{i}"]) for i, n in enumerate(numeric)}
    sketches = _sketches(frame, values, counts)
    for i, name in enumerate(numeric):
        if counts[name] > SKETCH:
            sketches[name] = [float(v) for v in first[f"q{i}"]]
    columns: dict[str, ColumnProfile] = {}
    category_counts = _category_counts(frame, categorical)
    for name in kinds:
        if name in counts:
            i = numeric.index(name)
            count = counts[name]
            columns[name] = ColumnProfile(
                kind="numeric",
                count=count,
                missing=rows - count,
                mean=None if count == 0 else float(first[f"a{i}"]),
                std=None if count == 0 else float(first[f"s{i}"]),
                quantiles=sketches.get(name, []),
            )
        else:
            seen = int(first[f"k{categorical.index(name)}"])
            columns[name] = ColumnProfile(
                kind="categorical",
                count=seen,
                missing=rows - seen,
                counts=category_counts.get(name, {}),
            )
    return Profile(rows=rows, columns=columns)


def _sketches(
    frame: DataFrame, values: dict[str, Column], counts: dict[str, int]
) -> dict[str, list[float]]:
    """All the values of each numeric column that has at most SKETCH of them (the local
    profile keeps them all; a larger column's sketch comes with the first aggregation)."""
    from pyspark.sql import functions as F

    small = [n for n, c in counts.items() if 0 < c <= SKETCH]
    if not small:
        return {}
    found = frame.agg(
        *[F.collect_list(values[n]).alias(f"l{i}") for i, n in enumerate(small)]
    ).collect()[0]
    return {n: sorted(float(v) for v in found[f"l{i}"]) for i, n in enumerate(small)}


def _category_counts(frame: DataFrame, names: list[str]) -> dict[str, dict[str, int]]:
    """Every categorical column's counts per value (as text), missing values left out,
    from one groupBy over all of them."""
    from pyspark.sql import functions as F

    if not names:
        return {}
    pairs = F.explode(
        F.array(*[F.struct(F.lit(n).alias("c"), _text(frame, n).alias("v")) for n in names])
    )
    grouped = (
        frame.select(pairs.alias("p"))
        .select("p.c", "p.v")
        .where(F.col("v").isNotNull())
        .groupBy("c", "v")
        .count()
    )
    found: dict[str, dict[str, int]] = {n: {} for n in names}
    for row in grouped.collect():
        found[row["c"]][row["v"]] = int(row["count"])
    # The local engine lists categories by count, largest first.
    return {n: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for n, c in found.items()}
