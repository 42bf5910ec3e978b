"""Reading tables: CSV and Parquet, local paths or fsspec URLs, into Arrow, pandas or polars.

A local folder of Parquet (or CSV) files, as Spark writes them (`part-*.parquet` and a
`_SUCCESS` marker), reads as one table: its files in the order of their names, hidden
files and writers' markers (names starting with `.` or `_`) left out, the way
`mlgate score` reads a folder and the Spark engine numbers its rows.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

__all__ = ["is_folder", "read_arrow", "read_pandas", "read_polars", "table_format", "to_polars"]

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".tsv": "csv"}
_COMPRESSED = (".gz", ".bz2", ".zst", ".xz")


def _name(location: str) -> str:
    """The file name in a location, lower case, without a compression suffix."""
    name = location.rsplit("/", 1)[-1].lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    return name


def table_format(location: str) -> Literal["csv", "parquet"]:
    """The format a location's name announces (a local folder's: its files'), or a
    DataError listing the ones read."""
    if is_folder(location):
        return _folder(location)[0]
    name = _name(location)
    for suffix, kind in _FORMATS.items():
        if name.endswith(suffix):
            return "parquet" if kind == "parquet" else "csv"
    if "://" not in location and "." not in name and not Path(location).exists():
        raise DataError("file not found.", source=location, fix="Check the path.")
    raise DataError(
        "unknown file type.",
        source=location,
        fix="mlgate reads .csv, .tsv and .parquet files (CSV may be .gz, .bz2, .zst or .xz), "
        "and folders of them.",
    )


def is_folder(location: str | Path) -> bool:
    """Whether `location` is a folder on this machine (read as the table its files hold)."""
    return "://" not in str(location) and Path(location).is_dir()


def _folder(location: str) -> tuple[Literal["csv", "parquet"], list[Path]]:
    """(the format, the files in name order) of a local folder of Parquet or CSV files."""
    root = Path(location)
    files = sorted(
        (
            p
            for p in root.rglob("*")
            if p.is_file()
            and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
            and _name(str(p)).endswith(tuple(_FORMATS))
        ),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    kinds = {table_format(str(p)) for p in files}
    if not files:
        raise DataError(
            "the folder holds no .parquet or .csv file.",
            source=location,
            fix="Point at a Parquet or CSV file, or a folder of them.",
        )
    if len(kinds) > 1:
        raise DataError(
            "the folder holds both Parquet and CSV files; read one format at a time.",
            source=location,
        )
    return kinds.pop(), files


def read_arrow(location: str | Path, *, quote: bool = True) -> pa.Table:
    """The table at `location` as Arrow, or a DataError that says why it cannot be read.

    `quote=False` for a file that is not the project's own (a config can name any file
    this process may read, and its errors reach CI logs): an error then says what is
    wrong and where, never what the file holds (the reader's quote of a row or value).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    location = str(location)
    kind = table_format(location)
    if is_folder(location):
        return _read_folder(location, quote=quote)
    if "://" not in location:
        path = Path(location)
        if not path.exists():
            raise DataError("file not found.", source=location, fix="Check the path.")
        if path.is_dir():
            raise DataError("expected a file, found a folder.", source=location)
        if path.stat().st_size == 0:
            raise DataError("the file is empty.", source=location)
    try:
        source = _arrow_source(location)
        if kind == "parquet":
            table = pq.read_table(source)
        else:
            delimiter = "\t" if _name(location).endswith(".tsv") else ","
            table = pacsv.read_csv(
                source,
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
    except FileNotFoundError as e:
        raise DataError("file not found.", source=location, fix="Check the path or URL.") from e
    except PermissionError as e:
        raise DataError("permission denied.", source=location) from e
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, ValueError) as e:
        if kind == "csv" and not _is_text(location):
            detail = "it is not UTF-8 text (binary data, or another encoding)"
        else:
            detail = _detail(e, quote=quote)
        raise DataError(
            f"cannot read it as {kind.upper()}: {detail}.",
            source=location,
            fix=f"Check that the file is {kind.upper()} and not damaged.",
        ) from e
    _check_columns(table, location)
    return table


def _read_folder(location: str, *, quote: bool) -> pa.Table:
    """A local folder's files as one table, in the order of their names (empty files,
    which writers leave for empty partitions, skipped)."""
    import pyarrow as pa

    kind, files = _folder(location)
    fix = f"Give every {kind.upper()} file in the folder the same columns and types."
    read = [(f, read_arrow(f, quote=quote)) for f in files if f.stat().st_size > 0]
    if not read:
        raise DataError("the folder's files are all empty.", source=location)
    (first, head), root = read[0], Path(location)
    for path, table in read[1:]:
        if table.column_names != head.column_names:
            raise DataError(
                f"its files do not hold one table: {path.relative_to(root).as_posix()} has "
                f"columns {table.column_names}, {first.relative_to(root).as_posix()} "
                f"{head.column_names}.",
                source=location,
                fix=fix,
            )
    tables = [table for _, table in read]
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, ValueError) as e:
        raise DataError(
            f"its files do not hold one table: {_detail(e, quote=quote)}.",
            source=location,
            fix=fix,
        ) from e
    return table


def _arrow_source(location: str) -> pa.NativeFile:
    """An Arrow-owned stream of the file's (decompressed) bytes.

    Arrow is never handed a Python file object: a table read through one can outlive
    it and abort the interpreter at exit ("terminate called without an active
    exception", about one run in four with polars imported; pola-rs/polars#24169).
    """
    import fsspec
    import pyarrow as pa

    if "://" not in location and not location.lower().endswith(".xz"):
        return pa.input_stream(location, compression="detect")
    with fsspec.open(location, "rb", compression="infer") as handle:
        sink = pa.BufferOutputStream()
        while chunk := handle.read(1 << 24):
            sink.write(chunk)
    return pa.BufferReader(sink.getvalue())


def _detail(error: Exception, *, quote: bool = True) -> str:
    """The first line of a reader's error, with any raw bytes it quotes made printable;
    without `quote`, with what it quotes of the file (a row, a value) left out."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    line = "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in line)
    line = re.sub(r"^Could not open Parquet input source '[^']*': ", "", line).rstrip(".")
    if not quote:
        line = re.sub(r"(columns, got \d+): .*$", r"\1", line)  # Arrow quotes the row
        line = re.sub(r"'[^']*'", "(a value)", line)  # and a value it cannot convert
    return line if len(line) <= 160 else line[:157] + "..."


def _is_text(location: str) -> bool:
    """Whether the start of the file decodes as UTF-8 text without NUL bytes."""
    import codecs

    import fsspec

    try:
        with fsspec.open(location, "rb", compression="infer") as handle:
            head = handle.read(1 << 16)
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except EOFError:  # a compressed file cut short: the reader's own error says so
        return True
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return b"\x00" not in head


def check_csv_headers(location: str | Path) -> None:
    """For a local CSV file, or folder of them, refuse what the local reader refuses in
    the header (an empty file, repeated column names, a header that is not UTF-8),
    reading only the first block of each file: the Spark engine checks its CSV input
    so, where Spark itself would rename repeated columns or read an empty file as a
    table without rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    where = str(location)
    if "://" in where:
        return
    if is_folder(where):
        kind, files = _folder(where)
        paths = [str(f) for f in files] if kind == "csv" else []
    else:
        paths = [where] if table_format(where) == "csv" and Path(where).is_file() else []
    for path in paths:
        if Path(path).stat().st_size == 0:
            raise DataError("the file is empty.", source=path)
        delimiter = "\t" if _name(path).endswith(".tsv") else ","
        try:
            reader = pacsv.open_csv(
                _arrow_source(path), parse_options=pacsv.ParseOptions(delimiter=delimiter)
            )
        except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, ValueError) as e:
            detail = (
                "it is not UTF-8 text (binary data, or another encoding)"
                if not _is_text(path)
                else _detail(e)
            )
            raise DataError(
                f"cannot read it as CSV: {detail}.",
                source=path,
                fix="Check that the file is CSV and not damaged.",
            ) from e
        _check_columns(reader.schema.empty_table(), path)


def _check_columns(table: pa.Table, location: str) -> None:
    """Refuse a table whose column names repeat, or whose text is not UTF-8."""
    import pyarrow as pa

    try:
        names = table.column_names
    except UnicodeDecodeError as e:
        raise DataError(
            "cannot read it as CSV: its header is not UTF-8 text (binary data, or another "
            "encoding).",
            source=location,
            fix="Check that the file is CSV, saved as UTF-8.",
        ) from e
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise DataError(
            f"column names appear more than once: {', '.join(map(repr, repeated))}.",
            source=location,
            fix="Give every column its own name.",
        )
    binary = [
        f.name
        for f in table.schema
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
    ]
    if binary and table_format(location) == "csv":
        raise DataError(
            f"column(s) {', '.join(map(repr, binary))} hold text that is not UTF-8.",
            source=location,
            fix="Save the file as UTF-8 (in Excel: CSV UTF-8).",
        )


def read_pandas(location: str | Path) -> pd.DataFrame:
    """The table at `location` as a pandas DataFrame (missing numbers become NaN)."""
    frame: pd.DataFrame = read_arrow(location).to_pandas()
    return frame


def read_polars(location: str | Path) -> pl.DataFrame:
    """The table at `location` as a polars DataFrame.

    A local Parquet file goes through polars' own reader, which reads columns in
    parallel straight into polars and needs no pyarrow (about 0.2 s against 0.4-0.8 s
    at 1,000,000 rows x 22 columns); everything else, and any file that reader
    rejects, goes through `read_arrow`, which also words the errors.
    """
    import polars as pl

    if _local_parquet(str(location)):
        with contextlib.suppress(pl.exceptions.PolarsError, OSError):
            return pl.read_parquet(location, glob=False, hive_partitioning=False)
    return cast("pl.DataFrame", pl.from_arrow(read_arrow(location)))


def parquet_bytes(location: str | Path) -> int | None:
    """The uncompressed size in bytes of a local Parquet file or folder of them, from
    their footers (nothing else is read); None for anything else or a footer that does
    not read (the reader then words the error)."""
    import pyarrow.parquet as pq

    where = str(location)
    if is_folder(where):
        kind, files = _folder(where)
        if kind != "parquet":
            return None
    elif _local_parquet(where):
        files = [Path(where)]
    else:
        return None
    total = 0
    try:
        for path in files:
            metadata = pq.read_metadata(path)
            total += sum(
                metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)
            )
    except (OSError, ValueError):
        return None
    return total


def _local_parquet(location: str) -> bool:
    """Whether `location` names an uncompressed Parquet file on this machine."""
    if "://" in location or table_format(location) != "parquet":
        return False
    if location.lower().endswith(_COMPRESSED):
        return False
    path = Path(location)
    return path.is_file() and path.stat().st_size > 0


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
