"""Checking a dataset against its schema, reporting every violation at once.

Row-level rules (ranges, categories, finiteness) run as a lazy pandera schema on
polars; dataset-level rules (missing rates, duplicates, row count, means) are
single polars aggregates. Both feed one report (`mlgate.data.report`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.data._row_rules import row_rules
from mlgate.data._rules import column_rules, dataset_rules
from mlgate.data.io import read_polars
from mlgate.data.report import Example, ValidationReport, Violation
from mlgate.data.schema import Schema

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["Example", "ValidationReport", "Violation", "to_polars", "validate", "validate_file"]


def to_polars(frame: pl.DataFrame | pd.DataFrame) -> pl.DataFrame:
    """A polars frame for either kind of input; pandas NaN becomes a missing value."""
    import polars as pl

    if isinstance(frame, pl.DataFrame):
        return frame
    try:
        return pl.from_pandas(frame, nan_to_null=True)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        # A column of mixed Python objects (text and numbers): compare it as text, so
        # that validation reports the values that do not fit instead of failing.
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        text = {c: frame[c].map(lambda v: v if v is None or v != v else str(v)) for c in mixed}
        return pl.from_pandas(frame.assign(**text), nan_to_null=True)


def validate(
    frame: pl.DataFrame | pd.DataFrame, schema: Schema, *, source: str | None = None
) -> ValidationReport:
    """Check `frame` against every rule of `schema` and report all that break."""
    import polars as pl

    data = to_polars(frame)
    floats = [c for c, t in data.schema.items() if t.is_float()]
    if floats:
        data = data.with_columns(pl.col(floats).fill_nan(None))
    violations, checkable = column_rules(data, schema)
    violations += row_rules(data, schema, checkable)
    violations += dataset_rules(data, schema, checkable)
    return ValidationReport(
        source=source, rows=data.height, columns=data.width, violations=violations
    )


def validate_file(location: str | Path, schema: Schema) -> ValidationReport:
    """Read the table at `location` and check it against `schema`."""
    return validate(read_polars(location), schema, source=str(location))
