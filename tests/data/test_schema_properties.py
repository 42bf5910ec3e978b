"""Properties of inference and validation over generated frames (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlgate.data import ValidationReport, infer_schema, validate

MISSING = st.sampled_from([None, math.nan])
FLOATS = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
SMALL_FLOATS = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
INTS = st.integers(-(10**12), 10**12)
WORDS = st.sampled_from(["a", "b", "c", "north", "south", "x y", ""]) | st.text(max_size=4)

KINDS: dict[str, tuple[st.SearchStrategy[Any], pl.DataType]] = {
    "float": (FLOATS | SMALL_FLOATS | MISSING, pl.Float64()),
    "int": (INTS | st.none(), pl.Int64()),
    "string": (WORDS | st.none(), pl.String()),
}

SETTINGS = settings(max_examples=75, deadline=None)


@st.composite
def frames(draw: st.DrawFn, first: str | None = None) -> pl.DataFrame:
    """1 to 40 rows of 1 to 4 columns: floats (huge, tiny, negative, NaN), ints, text, gaps.

    `first` fixes the kind of the first column: "number" (float or int with at least one
    value) or "category" (a few words repeated, so that inference lists them).
    """
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=0 if first else 1, max_size=3))
    rows = draw(st.integers(12 if first == "category" else 1, 40))
    columns: dict[str, pl.Series] = {}
    if first == "number":
        kind = draw(st.sampled_from(["float", "int"]))
        values, dtype = KINDS[kind]
        some = FLOATS | SMALL_FLOATS if kind == "float" else INTS
        drawn = draw(st.lists(values, min_size=rows - 1, max_size=rows - 1))
        drawn.insert(draw(st.integers(0, rows - 1)), draw(some))
        columns[f"{kind}_first"] = pl.Series(drawn, dtype=dtype, strict=False)
    elif first == "category":
        pool = draw(st.lists(WORDS, min_size=1, max_size=3, unique=True))
        drawn = draw(st.lists(st.sampled_from([*pool, None]), min_size=rows, max_size=rows))
        columns["category_first"] = pl.Series(drawn, dtype=pl.String())
    for i, kind in enumerate(kinds):
        values, dtype = KINDS[kind]
        columns[f"{kind}_{i}"] = pl.Series(
            draw(st.lists(values, min_size=rows, max_size=rows)), dtype=dtype, strict=False
        )
    return pl.DataFrame(columns)


def with_value(frame: pl.DataFrame, column: str, row: int, value: Any) -> pl.DataFrame:
    series = frame.get_column(column)
    values = series.to_list()
    values[row] = value
    return frame.with_columns(pl.Series(column, values, dtype=series.dtype))


def rows_of(report: ValidationReport, column: str, rule: str) -> list[int]:
    return [
        e.row for v in report.violations if (v.column, v.rule) == (column, rule) for e in v.examples
    ]


@SETTINGS
@given(frames())
def test_the_inferred_schema_accepts_the_data_it_came_from(frame: pl.DataFrame) -> None:
    report = validate(frame, infer_schema(frame))

    assert report.passed, report.violations


@SETTINGS
@given(frames(first="number"), st.data())
def test_a_value_pushed_past_the_inferred_range_is_reported_at_its_row(
    frame: pl.DataFrame, data: st.DataObject
) -> None:
    schema = infer_schema(frame)
    bounded = [n for n, c in schema.columns.items() if c.min is not None and c.max is not None]
    assume(bounded)
    column = data.draw(st.sampled_from(bounded), label="column")
    row = data.draw(st.integers(0, frame.height - 1), label="row")
    rules = schema.columns[column]
    assert rules.min is not None
    assert rules.max is not None
    up = data.draw(st.booleans(), label="above max")
    bound = rules.max if up else rules.min
    step = max(1, abs(bound))
    value = bound + step if up else bound - step
    if frame.get_column(column).dtype.is_integer():
        value = int(value)

    report = validate(with_value(frame, column, row, value), schema)

    rule = "above_max" if up else "below_min"
    assert rows_of(report, column, rule) == [row], report.violations
    assert {(v.column, v.rule) for v in report.violations} == {(column, rule)}


@SETTINGS
@given(frames(first="category"), st.data())
def test_an_unseen_category_is_always_reported(frame: pl.DataFrame, data: st.DataObject) -> None:
    schema = infer_schema(frame)
    listed = [n for n, c in schema.columns.items() if c.categories is not None]
    assume(listed)
    column = data.draw(st.sampled_from(listed), label="column")
    row = data.draw(st.integers(0, frame.height - 1), label="row")
    categories = schema.columns[column].categories or []
    unseen = data.draw(st.text(min_size=1, max_size=6).filter(lambda t: t not in categories))

    report = validate(with_value(frame, column, row, unseen), schema)

    assert rows_of(report, column, "unknown_category") == [row], report.violations
    assert {(v.column, v.rule) for v in report.violations} == {(column, "unknown_category")}
