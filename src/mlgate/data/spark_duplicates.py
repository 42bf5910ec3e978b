"""Duplicate rows on Spark, counted without shuffling whole rows: grouped first by a digest
of each row's values, compared whole only where a digest recurs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.data.spark import column as named

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["count_duplicates"]

#: The two digests of a row's values, by which rows are grouped before any is compared.
_DIGESTS = ("__mlgate_digest_1", "__mlgate_digest_2")


def count_duplicates(frame: DataFrame, columns: list[str]) -> int:
    """Rows equal to an earlier one, exactly as `distinct` counts them, without shuffling
    whole rows: rows are grouped by a 96-bit digest of their values (xxHash64 and
    Murmur3, each value with its missing flag; -0.0 and every NaN made one value, as
    `distinct` makes them), 12 bytes a row. Rows of a digest no other row has are unique;
    only those that share one are compared whole (none, in clean data)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    kinds = [frame.schema[c].dataType for c in columns]
    if not all(isinstance(k, T.AtomicType) for k in kinds):  # arrays, maps, structs
        return frame.count() - frame.select(*[named(c) for c in columns]).distinct().count()
    parts = []
    for name, kind in zip(columns, kinds, strict=True):
        value = named(name)
        if isinstance(kind, T.FloatType | T.DoubleType):
            value = F.when(F.isnan(value), F.lit(float("nan")).cast(kind)).otherwise(value + 0.0)
        parts += [value, named(name).isNull()]
    first, second = _DIGESTS
    keyed = frame.select(F.xxhash64(*parts).alias(first), F.hash(*parts).alias(second), "*")
    shared = keyed.groupBy(*_DIGESTS).count().where(F.col("count") > 1).select(*_DIGESTS)
    if not shared.take(1):
        return 0
    alike = keyed.join(shared, list(_DIGESTS)).select(*[named(c) for c in columns])
    return alike.count() - alike.distinct().count()
