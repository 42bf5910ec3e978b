"""Columns become samples: numbers with gaps as NaN, text where numbers belong refused, and a
column's kind the same in both files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlgate.drift import detect, detect_files
from mlgate.errors import DataError


def test_text_in_a_numeric_column_is_a_clear_error() -> None:
    reference = pd.DataFrame({"age": [30.0, 40.0, 50.0]})
    current = pd.DataFrame({"age": ["30", "forty", None]})
    with pytest.raises(
        DataError,
        match=r"^column 'age' holds text such as 'forty' where numbers were expected\. "
        r"Compare data whose columns hold the same kind of values\.$",
    ):
        detect(reference, current, kinds={"age": "numeric"})


def test_nullable_integers_are_numbers_with_gaps() -> None:
    reference = pd.DataFrame({"n": pd.array([1, 2, None, 4] * 50, dtype="Int64")})
    current = pd.DataFrame({"n": pd.array([1, 2, 3, 4] * 50, dtype="Int64")})
    (column,) = detect(reference, current).columns
    assert (column.kind, column.test, column.reference_rows) == ("numeric", "ks", 150)


def test_a_column_of_numbers_in_one_file_and_text_in_the_other_is_a_clear_error(
    tmp_path: Path,
) -> None:
    pd.DataFrame({"age": [30, 40]}).to_parquet(tmp_path / "ref.parquet")
    pd.DataFrame({"age": ["30", "forty"]}).to_parquet(tmp_path / "cur.parquet")
    with pytest.raises(
        DataError,
        match=r"^column 'age' is numeric \(int64\) in the reference but categorical "
        r"\((large_)?string\) in the current data\. Compare data whose columns hold the same kind "
        r"of values\.$",
    ):
        detect_files(tmp_path / "ref.parquet", tmp_path / "cur.parquet")
