"""How validation finds things fast: row hashing for duplicates, one range check per
column, and polars' own Parquet reader; each must give what the plain way gives."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.data.duplicates import repeated_rows
from mlgate.data.io import read_arrow, read_polars
from mlgate.data.schema import Schema
from mlgate.data.validate import validate
from mlgate.errors import DataError


def _first_distinct_way(frame: pl.DataFrame) -> list[int]:
    """Rows equal to an earlier row, found by comparing every row (the slow, plain way)."""
    if frame.height == 0:
        return []
    mask = frame.select(pl.struct(pl.all()).is_first_distinct().not_()).to_series()
    return mask.arg_true().to_list()


floats = st.sampled_from([0.0, -0.0, 1.5, math.nan, math.inf, None])
rows = st.tuples(floats, st.sampled_from(["a", "b", None]), st.integers(0, 2))


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, max_size=40))
def test_repeated_rows_are_those_equal_to_an_earlier_row(data: list[tuple[object, ...]]) -> None:
    frame = pl.DataFrame(
        data,
        schema={"x": pl.Float64, "s": pl.String, "n": pl.Int64},
        orient="row",
    )

    found = repeated_rows(frame)

    assert found.to_list() == _first_distinct_way(frame)
    assert found.len() == (frame.height - frame.n_unique() if frame.height else 0)


def test_a_hash_collision_is_not_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, 1.0, 3.0, 2.0], "s": ["a", "b", "a", "c", "z"]})
    # Every row hashes alike: only the exact comparison can tell them apart.
    monkeypatch.setattr(
        pl.DataFrame,
        "hash_rows",
        lambda self, *a, **k: pl.Series([7] * self.height, dtype=pl.UInt64),
    )

    assert repeated_rows(frame).to_list() == [2]


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


def test_local_parquet_reads_as_arrow_would(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    frame = pl.DataFrame(
        {"x": [1.0, None, 3.0], "s": ["a", None, "c"], "c": ["u", "v", "u"]},
        schema_overrides={"c": pl.Categorical},
    )
    frame.write_parquet(path)

    read, arrow = read_polars(path), pl.from_arrow(read_arrow(path))

    assert isinstance(arrow, pl.DataFrame)
    assert read.schema == arrow.schema
    assert read.equals(arrow)


def test_a_damaged_parquet_file_gets_the_arrow_readers_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")

    with pytest.raises(DataError) as polars_way:
        read_polars(path)
    with pytest.raises(DataError) as arrow_way:
        read_arrow(path)

    assert str(polars_way.value) == str(arrow_way.value)
    assert "cannot read it as PARQUET" in str(polars_way.value)


def test_starting_the_cli_leaves_the_road_unloaded() -> None:
    # `mlgate validate` pays for every import at start: the registry's SQLAlchemy and
    # the statistics' numpy belong to `mlgate run`, not to it.
    script = (
        "import sys\nimport mlgate.cli\n"
        "print(sorted(m for m in ('numpy', 'sqlalchemy', 'mlgate.pipeline') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
