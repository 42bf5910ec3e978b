"""A column's values as the sample its kind of test takes, from pandas, numpy or Arrow.

Numeric columns become float64 with missing values as NaN; text where numbers
were expected is a DataError, never a silent NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlgate.drift.stattests import CategoricalSample, NumericSample
from mlgate.errors import DataError

__all__ = ["Sample", "arrow_counts", "arrow_kind", "arrow_numbers", "kind_of", "sample_values"]

Sample = NumericSample | CategoricalSample


def _numbers(values: Any, column: str | None) -> Any:
    """`values` as float64, missing values (None, NA, NaN) as NaN; text is a DataError."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        import pandas as pd

        series = pd.Series(values)
        numbers = pd.to_numeric(series, errors="coerce")
        text = series[series.notna() & numbers.isna()]
        if len(text):
            where = f"column {column!r}" if column else "a numeric column"
            raise DataError(
                f"{where} holds text such as {text.iloc[0]!r} where numbers were expected.",
                fix="Compare data whose columns hold the same kind of values.",
            ) from None
        return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def sample_values(values: Any, kind: str, *, column: str | None = None) -> Sample:
    """A column's values as the sample its kind of test takes."""
    if kind == "numeric":
        return NumericSample.of(_numbers(values, column))
    return CategoricalSample.of(values)


def kind_of(values: Any) -> str:
    """'numeric' or 'categorical' for a column's values; bools count as categorical."""
    import pandas as pd

    series = pd.Series(values)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return "numeric" if numeric else "categorical"


def arrow_kind(column: str, reference: Any, current: Any) -> str:
    """'numeric' or 'categorical' for an Arrow column, the same on both sides or a DataError."""
    import pyarrow as pa

    def kind(data_type: Any) -> str | None:
        if pa.types.is_null(data_type):
            return None  # all missing: takes the other side's kind
        numeric = pa.types.is_integer(data_type) or pa.types.is_floating(data_type)
        return "numeric" if numeric else "categorical"

    ref, cur = kind(reference.type), kind(current.type)
    if ref is not None and cur is not None and ref != cur:
        raise DataError(
            f"column {column!r} is {ref} ({reference.type}) in the reference but {cur} "
            f"({current.type}) in the current data.",
            fix="Compare data whose columns hold the same kind of values.",
        )
    return ref or cur or "numeric"


def arrow_numbers(column: Any) -> Any:
    """A numeric Arrow column as float64, nulls as NaN, read from its buffers.

    pyarrow's own `to_numpy` imports pandas (0.4 s of CPU), which a drift check
    between two Parquet files otherwise never needs.
    """
    import pyarrow as pa

    parts = []
    for chunk in column.chunks:
        size = len(chunk)
        if pa.types.is_null(chunk.type) or size == chunk.null_count:
            parts.append(np.full(size, np.nan))
            continue
        letter = "f" if pa.types.is_floating(chunk.type) else "i"
        if pa.types.is_unsigned_integer(chunk.type):
            letter = "u"
        dtype = np.dtype(f"{letter}{chunk.type.bit_width // 8}")
        validity, data = chunk.buffers()[:2]
        values = np.frombuffer(data, dtype=dtype, count=size, offset=chunk.offset * dtype.itemsize)
        values = values.astype(np.float64, copy=False)
        if chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            values = np.where(bits[chunk.offset : chunk.offset + size].astype(bool), values, np.nan)
        parts.append(values)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0)


def arrow_counts(column: Any) -> CategoricalSample:
    """A categorical Arrow column's counts per value as text, nulls left out."""
    found = column.value_counts().to_pylist()
    return CategoricalSample(
        {str(d["values"]): int(d["counts"]) for d in found if d["values"] is not None}
    )
