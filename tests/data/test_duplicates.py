"""Repeated rows found by hashing must be those the plain row-by-row comparison finds."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.data.duplicates import repeated_rows


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
