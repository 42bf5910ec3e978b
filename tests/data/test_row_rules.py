"""Row-level rules: one pandera check per column covers min, max and finiteness, and the
failing values are told apart afterwards."""

from __future__ import annotations

import math

import polars as pl

from mlgate.data import Schema, validate


def test_one_range_check_tells_below_above_and_infinite_apart() -> None:
    values = [5.0, -1.0, math.inf, 11.0, None, -math.inf, -2.0, math.nan, 12.0, 13.0, -3.0]
    frame = pl.DataFrame({"x": values, "n": [0, 1, 20, 3, -4, 5, 6, 7, 30, 9, 10]})
    schema = Schema.model_validate(
        {"columns": {"x": {"min": 0, "max": 10}, "n": {"dtype": "int", "min": 0, "max": 10}}}
    )

    report = validate(frame, schema)

    found = {(v.column, v.rule): (v.count, [e.row for e in v.examples]) for v in report.violations}
    assert found == {
        ("x", "below_min"): (3, [1, 6, 10]),
        ("x", "above_max"): (3, [3, 8, 9]),
        ("x", "not_finite"): (2, [2, 5]),
        ("n", "below_min"): (1, [4]),
        ("n", "above_max"): (2, [2, 8]),
    }
    assert [(v.column, v.rule) for v in report.violations] == list(found)
    below = next(v for v in report.violations if v.rule == "below_min" and v.column == "x")
    assert below.message == "3 value(s) below min 0"
    assert [e.value for e in below.examples] == [-1.0, -2.0, -3.0]


def test_allowed_infinities_break_no_range_rule() -> None:
    frame = pl.DataFrame({"x": [1.0, math.inf, -math.inf, 11.0]})
    schema = Schema.model_validate({"columns": {"x": {"min": 0, "max": 10, "allow_inf": True}}})

    report = validate(frame, schema)

    assert [(v.rule, v.count) for v in report.violations] == [("above_max", 1)]
