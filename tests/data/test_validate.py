"""Validation reports every broken rule at once, the same for pandas and polars input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from mlgate.data import Schema, ValidationReport, validate, validate_file

SCHEMA = Schema.model_validate(
    {
        "columns": {
            "age": {"dtype": "int", "min": 18, "max": 90, "nullable": False},
            "income": {"dtype": "float", "min": 0, "max_missing_rate": 0.2},
            "score": {"dtype": "float", "min": 0, "max": 1, "mean_min": 0.4, "mean_max": 0.6},
            "plan": {"dtype": "string", "categories": ["basic", "pro"]},
            "region": {"dtype": "string"},
        },
        "_global": {"max_duplicates": 0, "min_rows": 10},
    }
)


def clean_rows() -> dict[str, list[Any]]:
    return {
        "age": [25, 31, 47, 52, 38, 29, 61, 44, 35, 58],
        "income": [41e3, 52e3, 61e3, 75e3, 48e3, 39e3, 88e3, 57e3, 45e3, 69e3],
        "score": [0.5, 0.4, 0.6, 0.5, 0.45, 0.55, 0.5, 0.5, 0.35, 0.65],
        "plan": ["basic", "pro", "basic", "pro", "basic", "pro", "basic", "pro", "basic", "pro"],
        "region": ["n", "s", "e", "w", "n", "s", "e", "w", "n", "s"],
    }


def found(report: ValidationReport) -> list[tuple[str | None, str]]:
    return [(v.column, v.rule) for v in report.violations]


def by_rule(report: ValidationReport, column: str | None, rule: str) -> Any:
    (violation,) = [v for v in report.violations if (v.column, v.rule) == (column, rule)]
    return violation


def test_clean_data_passes_with_no_violations() -> None:
    report = validate(pl.DataFrame(clean_rows()), SCHEMA, source="clean.csv")

    assert report.passed
    assert report.violations == []
    assert (report.source, report.rows, report.columns) == ("clean.csv", 10, 5)
    assert report.summary() == "valid: 10 rows x 5 columns break no rule"


def broken_frame() -> pl.DataFrame:
    """Every rule the schema has, broken at least once, all in one frame."""
    rows = clean_rows()
    rows["age"] = [25, 12, 47, 95, 38, 29, 61, 44, 35, 58]  # row 1 below, row 3 above
    rows["income"] = [41e3, None, None, math.inf, None, 39e3, -5.0, 57e3, 45e3, 69e3]
    rows["score"] = [0.9, 0.8, 0.9, 0.8, 0.9, 0.8, 0.9, 0.8, 0.9, 0.8]  # mean 0.85
    rows["plan"] = ["basic", "gold", "basic", "pro", "team", "pro", "basic", "pro", "basic", "pro"]
    del rows["region"]
    rows["extra"] = list(range(10))
    frame = pl.DataFrame(rows)
    return pl.concat([frame, frame.slice(0, 2)])  # rows 10 and 11 repeat rows 0 and 1


def test_every_violation_is_reported_at_once() -> None:
    report = validate(broken_frame(), SCHEMA)

    assert not report.passed
    assert sorted(found(report), key=str) == sorted(
        [
            ("region", "missing_column"),
            ("extra", "unexpected_column"),
            ("age", "below_min"),
            ("age", "above_max"),
            ("income", "below_min"),
            ("income", "not_finite"),
            ("score", "mean_out_of_range"),
            ("plan", "unknown_category"),
            ("income", "missing_rate"),
            (None, "duplicates"),
        ],
        key=str,
    )
    assert report.summary() == "invalid: 10 violation(s) in 6 column(s) of 12 rows"


def test_each_violation_says_what_how_often_and_where() -> None:
    report = validate(broken_frame(), SCHEMA)

    def shown(column: str | None, rule: str) -> tuple[Any, ...]:
        v = by_rule(report, column, rule)
        return v.message, v.count, v.expected, [(e.row, e.value) for e in v.examples]

    assert shown("region", "missing_column") == ("column is missing", None, "present", [])
    assert shown("extra", "unexpected_column")[0] == "column is not in the schema"
    assert shown("age", "below_min") == ("2 value(s) below min 18", 2, 18, [(1, 12), (11, 12)])
    assert shown("age", "above_max") == ("1 value(s) above max 90", 1, 90, [(3, 95)])
    assert shown("income", "below_min") == ("1 value(s) below min 0", 1, 0, [(6, -5.0)])
    assert shown("income", "not_finite") == (
        "1 value(s) infinite",
        1,
        "finite numbers",
        [(3, math.inf)],
    )
    assert shown("plan", "unknown_category") == (
        "3 value(s) not an allowed category",
        3,
        ["basic", "pro"],
        [(1, "gold"), (4, "team"), (11, "gold")],
    )
    assert shown("income", "missing_rate") == (
        "33.33% missing (4 of 12), limit 20.00%",
        4,
        0.2,
        [(1, None), (2, None), (4, None), (11, None)],
    )
    assert shown("score", "mean_out_of_range") == (
        "mean 0.85 outside [0.4, 0.6]",
        None,
        [0.4, 0.6],
        [],
    )
    assert shown(None, "duplicates") == (
        "2 duplicate row(s), at most 0 allowed",
        2,
        0,
        [(10, None), (11, None)],
    )


def test_examples_stop_at_five_rows_but_counts_do_not() -> None:
    frame = pl.DataFrame({"x": [float(v) for v in range(100)]})
    schema = Schema.model_validate({"columns": {"x": {"max": 9.5}}})

    (violation,) = validate(frame, schema).violations

    assert violation.count == 90
    assert [e.row for e in violation.examples] == [10, 11, 12, 13, 14]
    assert [e.value for e in violation.examples] == [10.0, 11.0, 12.0, 13.0, 14.0]


def test_text_in_a_numeric_column_is_a_dtype_violation_with_its_rows() -> None:
    frame = pl.DataFrame({"age": ["31", "forty", "27", None, "n.a.", "19"]})
    schema = Schema.model_validate({"columns": {"age": {"dtype": "int", "min": 0}}})

    (violation,) = validate(frame, schema).violations

    assert violation.rule == "dtype"
    assert violation.message == "expected int, found String; 2 value(s) are not int"
    assert (violation.observed, violation.expected, violation.count) == ("String", "int", 2)
    assert [(e.row, e.value) for e in violation.examples] == [(1, "forty"), (4, "n.a.")]


def test_fractions_in_an_int_column_are_a_dtype_violation() -> None:
    frame = pl.DataFrame({"n": [1.0, 2.5, 3.0, None]})
    schema = Schema.model_validate({"columns": {"n": {"dtype": "int"}}})

    (violation,) = validate(frame, schema).violations

    assert violation.message == "expected int, found Float64; 1 value(s) are not int"
    assert [(e.row, e.value) for e in violation.examples] == [(1, 2.5)]


def test_an_int_column_read_as_float_because_of_gaps_is_still_int() -> None:
    frame = pd.DataFrame({"n": [1, 2, None, 4]})  # pandas makes it float64
    schema = Schema.model_validate({"columns": {"n": {"dtype": "int", "min": 0, "max": 9}}})

    assert frame["n"].dtype == np.float64
    assert validate(frame, schema).passed
    assert validate(pl.from_pandas(frame), schema).passed


def test_ints_satisfy_a_float_column() -> None:
    schema = Schema.model_validate({"columns": {"x": {"dtype": "float", "max": 3}}})

    assert validate(pl.DataFrame({"x": [1, 2, 3]}), schema).passed


def test_a_text_category_column_takes_numbers_that_read_as_numbers() -> None:
    schema = Schema.model_validate({"columns": {"code": {"categories": ["1", "2", "x"]}}})

    report = validate(pl.DataFrame({"code": [1, 2, 3]}), schema)

    assert found(report) == [("code", "unknown_category")]
    assert [(e.row, e.value) for e in report.violations[0].examples] == [(2, 3)]


def test_numeric_categories_check_numbers() -> None:
    schema = Schema.model_validate({"columns": {"stars": {"categories": [1, 2, 3, 4, 5]}}})

    report = validate(pl.DataFrame({"stars": [1, 5, 6, 0, None]}), schema)

    violation = by_rule(report, "stars", "unknown_category")
    assert [(e.row, e.value) for e in violation.examples] == [(2, 6), (3, 0)]


def test_infinity_is_not_finite_and_not_also_out_of_range() -> None:
    schema = Schema.model_validate({"columns": {"x": {"min": 0, "max": 10}}})
    frame = pl.DataFrame({"x": [1.0, math.inf, -math.inf, 11.0]})

    report = validate(frame, schema)

    assert found(report) == [("x", "above_max"), ("x", "not_finite")]
    assert by_rule(report, "x", "not_finite").count == 2
    assert by_rule(report, "x", "above_max").count == 1


def test_allow_inf_accepts_infinity_even_with_bounds() -> None:
    schema = Schema.model_validate({"columns": {"x": {"min": 0, "max": 10, "allow_inf": True}}})

    assert validate(pl.DataFrame({"x": [1.0, math.inf, -math.inf]}), schema).passed


def test_nan_counts_as_missing() -> None:
    schema = Schema.model_validate({"columns": {"x": {"nullable": False}}})

    report = validate(pl.DataFrame({"x": [1.0, math.nan, 2.0]}), schema)

    assert [(v.rule, v.message) for v in report.violations] == [
        ("missing_rate", "33.33% missing (1 of 3), limit 0.00% (nullable: false)")
    ]


def test_missing_values_are_not_range_or_category_violations() -> None:
    schema = Schema.model_validate(
        {"columns": {"x": {"min": 0, "max": 1}, "c": {"categories": ["a"]}}}
    )

    assert validate(pl.DataFrame({"x": [None, 0.5], "c": [None, "a"]}), schema).passed


@pytest.mark.parametrize(
    ("rules", "rows", "message"),
    [
        ({"min_rows": 5}, 3, "3 rows, expected at least 5"),
        ({"max_rows": 2}, 3, "3 rows, expected at most 2"),
        ({"min_rows": 5, "max_rows": 9}, 3, "3 rows, expected between 5 and 9"),
    ],
)
def test_row_count_says_what_was_expected(rules: dict[str, int], rows: int, message: str) -> None:
    schema = Schema.model_validate({"columns": {"x": {}}, "_global": rules})

    report = validate(pl.DataFrame({"x": list(range(rows))}), schema)

    assert [(v.rule, v.message, v.observed) for v in report.violations] == [
        ("row_count", message, rows)
    ]


def test_a_duplicate_rate_limits_duplicates_by_share() -> None:
    schema = Schema.model_validate({"columns": {"x": {}}, "_global": {"max_duplicate_rate": 0.2}})

    allowed = validate(pl.DataFrame({"x": [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]}), schema)
    too_many = validate(pl.DataFrame({"x": [1, 1, 1, 2, 2, 3, 4, 5, 6, 7]}), schema)

    assert allowed.passed
    assert [(v.rule, v.message) for v in too_many.violations] == [
        ("duplicates", "3 duplicate row(s), at most 2 allowed")
    ]


def test_extra_columns_pass_when_the_schema_allows_them() -> None:
    schema = Schema.model_validate({"columns": {"x": {}}, "_global": {"allow_extra_columns": True}})

    assert validate(pl.DataFrame({"x": [1], "y": [2]}), schema).passed


def test_a_column_of_the_wrong_type_is_not_also_range_checked() -> None:
    schema = Schema.model_validate({"columns": {"x": {"dtype": "float", "min": 0}}})

    report = validate(pl.DataFrame({"x": ["-1", "a"]}), schema)

    assert found(report) == [("x", "dtype")]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda: broken_frame(), id="every-rule-broken"),
        pytest.param(lambda: pl.DataFrame(clean_rows()), id="clean"),
        pytest.param(
            lambda: pl.DataFrame(clean_rows()).with_columns(
                pl.Series("age", [25.0, None, 47.0, 52.0, 38.0, 29.0, 61.0, 44.0, 35.0, 58.5])
            ),
            id="gaps-and-fractions",
        ),
    ],
)
def test_pandas_and_polars_inputs_give_the_same_report(frame: Any) -> None:
    data = frame()

    from_polars = validate(data, SCHEMA, source="x")
    from_pandas = validate(data.to_pandas(), SCHEMA, source="x")

    assert from_pandas.model_dump() == from_polars.model_dump()


def test_a_pandas_column_mixing_text_and_numbers_is_reported_not_a_crash() -> None:
    frame = pd.DataFrame({"income": ["x", 60000, "y", 80000.5, None]})
    schema = Schema.model_validate({"columns": {"income": {"dtype": "float"}}})

    (violation,) = validate(frame, schema).violations

    assert violation.rule == "dtype"
    assert [(e.row, e.value) for e in violation.examples] == [(0, "x"), (2, "y")]


def test_validate_file_reads_and_checks_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("age,plan\n31,basic\nforty,pro\n27,gold\n", encoding="utf-8")
    schema = Schema.model_validate(
        {"columns": {"age": {"dtype": "int"}, "plan": {"categories": ["basic", "pro"]}}}
    )

    report = validate_file(path, schema)

    assert report.source == str(path)
    assert found(report) == [("age", "dtype"), ("plan", "unknown_category")]


def test_the_report_dumps_to_json_with_passed_and_every_violation() -> None:
    report = validate(broken_frame(), SCHEMA, source="broken.csv")

    payload = json.loads(report.model_dump_json())

    assert payload["passed"] is False
    assert payload["source"] == "broken.csv"
    assert len(payload["violations"]) == 10
    assert set(payload["violations"][0]) == {
        "column",
        "rule",
        "message",
        "count",
        "observed",
        "expected",
        "examples",
    }


def test_a_table_too_big_for_memory_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from mlgate.data.io import parquet_bytes
    from mlgate.errors import DataError

    rows = pl.DataFrame({"a": np.arange(100_000, dtype=float), "b": ["x"] * 100_000})
    rows.write_parquet(tmp_path / "big.parquet")
    (tmp_path / "parts").mkdir()
    rows.write_parquet(tmp_path / "parts" / "0.parquet")
    rows.write_parquet(tmp_path / "parts" / "1.parquet")
    size = parquet_bytes(tmp_path / "big.parquet")
    assert size is not None
    assert size >= 800_000  # 100,000 doubles, uncompressed
    assert parquet_bytes(tmp_path / "parts") == 2 * size
    schema = Schema.model_validate({"columns": {"a": {"dtype": "float"}, "b": {}}})
    assert validate_file(tmp_path / "big.parquet", schema).passed
    # The same table on a machine with less memory available than its validation holds.
    validating = importlib.import_module("mlgate.data.validate")
    monkeypatch.setattr(validating, "available_memory", lambda: int(size * 1.5))
    for where, held in (("big.parquet", size), ("parts", 2 * size)):
        with pytest.raises(DataError) as refused:
            validate_file(tmp_path / where, schema)
        message = str(refused.value)
        assert f"needs about {held * 1.7 / 1e6:.0f} MB of memory" in message
        assert f"more than the {size * 1.5 / 1e6:.0f} MB this machine has available" in message
        assert "--engine spark" in message
