"""Reading tables from real files: each format read alike, each bad file one clear DataError."""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
from pathlib import Path

import fsspec
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from mlgate.data import infer_schema, read_arrow, read_pandas, read_polars, validate
from mlgate.data.io import _arrow_source, table_format
from mlgate.data.schema import Schema
from mlgate.errors import DataError

CSV = "age,income,city\n31,52000.5,Oslo\n45,,Bergen\n27,38000.0,Oslo\n"
EXPECTED = pl.DataFrame(
    {
        "age": [31, 45, 27],
        "income": [52000.5, None, 38000.0],
        "city": ["Oslo", "Bergen", "Oslo"],
    }
)


def exact(path: Path | str, message: str) -> str:
    return rf"^{re.escape(str(path))}: {message}$"


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("data.csv", lambda text: text.encode()),
        ("data.tsv", lambda text: text.replace(",", "\t").encode()),
        ("data.csv.gz", lambda text: gzip.compress(text.encode())),
        ("data.csv.bz2", lambda text: bz2.compress(text.encode())),
        ("data.csv.xz", lambda text: lzma.compress(text.encode())),
        ("DATA.CSV", lambda text: text.encode()),
        ("with-bom.csv", lambda text: b"\xef\xbb\xbf" + text.encode()),
    ],
)
def test_csv_in_every_supported_form_reads_the_same(
    tmp_path: Path, name: str, encode: object
) -> None:
    path = tmp_path / name
    path.write_bytes(encode(CSV))  # type: ignore[operator]

    assert_frame_equal(read_polars(path), EXPECTED)


def test_parquet_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    EXPECTED.write_parquet(path)

    assert_frame_equal(read_polars(path), EXPECTED)
    assert_frame_equal(read_polars(str(path).replace(".parquet", ".parquet")), EXPECTED)


def test_fsspec_urls_are_read(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(CSV, encoding="utf-8")
    with fsspec.open("memory://mlgate-tests/data.parquet", "wb") as handle:
        EXPECTED.write_parquet(handle)

    assert_frame_equal(read_polars(f"file://{tmp_path}/data.csv"), EXPECTED)
    assert_frame_equal(read_polars("memory://mlgate-tests/data.parquet"), EXPECTED)


def test_arrow_pandas_and_polars_readers_agree(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(CSV, encoding="utf-8")

    table = read_arrow(path)
    frame = read_pandas(path)

    assert table.column_names == ["age", "income", "city"]
    assert table.num_rows == 3
    assert isinstance(frame, pd.DataFrame)
    assert frame["income"].isna().tolist() == [False, True, False]
    assert_frame_equal(pl.from_pandas(frame, nan_to_null=True), read_polars(path))


def test_common_missing_markers_read_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,NA\n2,\n3,null\n4,5\n", encoding="utf-8")

    assert read_polars(path)["b"].to_list() == [None, None, None, 5]


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.csv.gz", "csv"),
        ("s3://b/a.CSV.ZST", "csv"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
        ("gs://bucket/dir.csv/a.parquet", "parquet"),
    ],
)
def test_table_format_comes_from_the_file_name(location: str, kind: str) -> None:
    assert table_format(location) == kind


# --- bad files: one DataError each, with a message a user can act on --------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("empty.csv", b"", r"the file is empty\.", id="empty"),
        pytest.param("empty.parquet", b"", r"the file is empty\.", id="empty-parquet"),
        pytest.param(
            "blank.csv",
            b"\n\n\n",
            r"cannot read it as CSV: CSV parse error: Empty CSV file or block: cannot infer "
            r"number of columns\. Check that the file is CSV and not damaged\.",
            id="blank-lines",
        ),
        pytest.param(
            "garbage.csv",
            bytes(range(256)) * 4,
            r"cannot read it as CSV: it is not UTF-8 text \(binary data, or another "
            r"encoding\)\. Check that the file is CSV and not damaged\.",
            id="binary-bytes",
        ),
        pytest.param(
            "garbage.parquet",
            b"PAR1 not really parquet",
            r"cannot read it as PARQUET: Parquet magic bytes not found in footer\. Either the "
            r"file is corrupted or this is not a parquet file\. Check that the file is "
            r"PARQUET and not damaged\.",
            id="garbage-parquet",
        ),
        pytest.param(
            "ragged.csv",
            b"a,b\n1,2,3\n",
            r"cannot read it as CSV: CSV parse error: Expected 2 columns, got 3: 1,2,3\. "
            r"Check that the file is CSV and not damaged\.",
            id="ragged-rows",
        ),
        pytest.param(
            "twice.csv",
            b"a,b,a\n1,2,3\n",
            r"column names appear more than once: 'a'\. Give every column its own name\.",
            id="duplicate-column-names",
        ),
        pytest.param(
            "latin1.csv",
            "city,n\nTroms\xf8,1\n".encode("latin-1"),
            r"column\(s\) 'city' hold text that is not UTF-8\. Save the file as UTF-8 "
            r"\(in Excel: CSV UTF-8\)\.",
            id="not-utf8",
        ),
        pytest.param(
            "data.xlsx",
            b"PK\x03\x04",
            r"unknown file type\. mlgate reads \.csv, \.tsv and \.parquet files "
            r"\(CSV may be \.gz, \.bz2, \.zst or \.xz\), and folders of them\.",
            id="unknown-extension",
        ),
        pytest.param(
            "bad.csv.gz",
            b"not gzip at all",
            r"cannot read it as CSV: .*\. Check that the file is CSV and not damaged\.",
            id="bad-compression",
        ),
    ],
)
def test_each_bad_file_is_one_clear_data_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DataError, match=exact(path, message)) as caught:
        read_polars(path)

    assert caught.value.source == str(path)
    assert "\ufffd" not in str(caught.value)
    assert str(caught.value).isprintable()


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"

    with pytest.raises(DataError, match=exact(path, r"file not found\. Check the path\.")):
        read_polars(path)


def test_a_missing_url_is_a_data_error() -> None:
    url = "memory://mlgate-tests/nope.parquet"

    with pytest.raises(DataError, match=exact(url, r"file not found\. Check the path or URL\.")):
        read_polars(url)


def test_a_missing_path_without_a_suffix_is_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope"

    with pytest.raises(DataError, match=exact(path, r"file not found\. Check the path\.")):
        read_polars(path)


def test_a_folder_of_csv_files_reads_as_one_table_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    lines = CSV.splitlines()
    (folder / "part-10.csv").write_text("\n".join([lines[0], *lines[3:]]) + "\n", encoding="utf-8")
    (folder / "part-02.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    (folder / "part-05.csv").write_bytes(b"")  # an empty partition
    (folder / "_SUCCESS").touch()
    (folder / ".part-02.csv.crc").write_bytes(b"\x00")

    assert table_format(str(folder)) == "csv"
    assert_frame_equal(read_polars(folder), EXPECTED)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            ["_SUCCESS"],
            r"the folder holds no \.parquet or \.csv file\. "
            r"Point at a Parquet or CSV file, or a folder of them\.",
        ),
        (
            ["a.csv", "b.parquet"],
            r"the folder holds both Parquet and CSV files; read one format at a time\.",
        ),
        (
            ["a.csv", "b.csv"],
            r"its files do not hold one table: b\.csv has columns \['b'\], a\.csv \['a'\]\. "
            r"Give every CSV file in the folder the same columns and types\.",
        ),
        (
            ["a.csv", "c.csv"],
            r"its files do not hold one table: .+\. "
            r"Give every CSV file in the folder the same columns and types\.",
        ),
    ],
)
def test_a_folder_that_is_not_one_table_is_a_data_error(
    tmp_path: Path, files: list[str], message: str
) -> None:
    folder = tmp_path / "data.csv"
    folder.mkdir()
    for name in files:
        if name.endswith(".parquet"):
            pd.DataFrame({"a": [1]}).to_parquet(folder / name)
        else:
            text = {"a.csv": "a\nx\n", "b.csv": "b\n1.5\n", "c.csv": "a\n1.5\n"}.get(name, "")
            (folder / name).write_text(text, encoding="utf-8")

    with pytest.raises(DataError, match=exact(folder, message)):
        read_polars(folder)


def test_unknown_extension_is_refused_before_looking_for_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown file type\."):
        read_polars(tmp_path / "missing.json")


# --- files that read, but need care downstream --------------------------------------------


def test_a_header_only_file_reads_as_zero_rows_and_cannot_seed_a_schema(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n", encoding="utf-8")

    frame = read_polars(path)

    assert frame.shape == (0, 2)
    with pytest.raises(
        DataError,
        match=exact(
            path,
            r"the data has a header but no rows\. A schema is inferred from rows: give a "
            r"file that has some\.",
        ),
    ):
        infer_schema(frame, source=str(path))


def test_a_header_only_file_fails_validation_on_row_count(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b\n", encoding="utf-8")
    schema = Schema.model_validate(
        {"columns": {"a": {"dtype": "int"}, "b": {"dtype": "float"}}, "_global": {"min_rows": 1}}
    )

    report = validate(read_polars(path), schema)

    assert [(v.rule, v.message) for v in report.violations] == [
        ("row_count", "0 rows, expected at least 1")
    ]


def test_an_all_missing_column_reads_and_is_caught_by_its_missing_rate(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,\n2,\n3,\n", encoding="utf-8")
    frame = read_polars(path)
    schema = Schema.model_validate({"columns": {"a": {}, "b": {"max_missing_rate": 0.1}}})

    report = validate(frame, schema)

    assert frame["b"].null_count() == 3
    assert [(v.column, v.rule, v.message) for v in report.violations] == [
        ("b", "missing_rate", "100.00% missing (3 of 3), limit 10.00%")
    ]
    inferred = infer_schema(frame).columns["b"]
    assert (inferred.dtype, inferred.nullable, inferred.max_missing_rate) == (None, True, 1.0)


def test_text_in_a_numeric_column_reads_as_text_and_fails_validation(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("age\n31\n4O\n27\nunknown\n", encoding="utf-8")
    schema = Schema.model_validate({"columns": {"age": {"dtype": "int"}}})

    report = validate(read_polars(path), schema)

    (violation,) = report.violations
    assert violation.rule == "dtype"
    assert violation.message == "expected int, found String; 2 value(s) are not int"
    assert [(e.row, e.value) for e in violation.examples] == [(1, "4O"), (3, "unknown")]


@pytest.mark.parametrize("name", ["a.csv", "a.csv.gz", "a.csv.xz", "a.parquet"])
def test_arrow_reads_from_arrow_owned_streams_only(tmp_path: Path, name: str) -> None:
    """Arrow is never handed a Python file object (local or through fsspec).

    A table read through one used to abort the interpreter at exit, at random ("terminate
    called without an active exception", exit 134, about one run in four with polars
    imported), so that `mlgate.read_polars(...)` in a script could fail after succeeding.
    """
    path = tmp_path / name
    compress = {".gz": gzip.compress, ".xz": lzma.compress}.get(path.suffix, bytes)
    path.write_bytes(compress(b"a\n1\n"))

    for location in (str(path), f"file://{path}"):
        source = _arrow_source(location)
        assert isinstance(source, pa.NativeFile)
        assert not isinstance(source, pa.PythonFile)
        source.close()


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


def test_an_error_about_a_file_not_the_projects_own_quotes_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"user,shell\nroot,/bin/bash,secret-token-value\n")
    with pytest.raises(
        DataError,
        match=exact(
            path,
            r"cannot read it as CSV: CSV parse error: Expected 2 columns, got 3\. "
            r"Check that the file is CSV and not damaged\.",
        ),
    ) as caught:
        read_arrow(path, quote=False)
    assert "secret" not in str(caught.value)


def test_a_compressed_csv_cut_short_is_one_data_error(tmp_path: Path) -> None:

    from mlgate.data.io import check_csv_headers, read_arrow
    from mlgate.errors import DataError

    packed = gzip.compress(b"a,b\n" + b"1.5,red\n" * 20_000)
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    for read in (read_arrow, check_csv_headers):
        with pytest.raises(DataError, match="cannot read it as CSV: Truncated compressed stream"):
            read(tmp_path / "cut.csv.gz")
