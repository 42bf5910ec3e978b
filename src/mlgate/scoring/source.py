"""The rows to score: a Parquet or CSV file or folder, read batch by batch.

pyarrow.dataset reads one file at a time, a batch or two ahead on one thread, so
memory stays bounded by the batch size however large the input is. Files are read in the order of
their names, and the rows of each in file order: a row's `row_id` (its
position in the input, from 0) is the same on every run over the same files.

A CSV's feature columns are read as text: a column's type is guessed from the
first block of a file, and a later value of another type would otherwise stop
the whole read instead of being refused with its row. Numeric features are
then converted per batch in one go, and only a batch with a value that is not a
number goes through the gateway's value-by-value checks (which name the row).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlgate.data.io import table_format
from mlgate.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds

__all__ = ["Source", "column_values", "missing_columns", "open_source", "open_table"]

_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".csv.gz", ".tsv.gz")


@dataclass
class Source:
    """An input opened for scoring: its dataset, format and the columns read."""

    location: str
    format: Literal["csv", "parquet"]
    dataset: ds.Dataset
    columns: list[str]
    numeric: frozenset[str]

    def count_rows(self) -> int | None:
        """The input's rows when they are cheap to know (Parquet footers); None for CSV."""
        return self.dataset.count_rows() if self.format == "parquet" else None

    def batches(self, rows: int) -> Iterator[pa.RecordBatch]:
        """The input's rows in order, at most `rows` per batch (fewer at a file's end)."""
        import pyarrow as pa

        for fragment in self.dataset.get_fragments():
            try:
                # Threaded scans decode row groups far ahead of a slower consumer (the
                # whole of a 10M-row file: memory grew with the input); one thread reads
                # a batch or two ahead, and scoring, not reading, sets the pace.
                batches = fragment.to_batches(
                    columns=self.columns,
                    batch_size=rows,
                    batch_readahead=2,
                    fragment_readahead=1,
                    use_threads=False,
                )
                for batch in batches:
                    if batch.num_rows:
                        yield batch
            except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
                raise DataError(
                    f"cannot read it as {self.format.upper()}: {_first_line(e)}.",
                    source=fragment.path,
                    fix=f"Check that the file is {self.format.upper()} and not damaged.",
                ) from e

    def values(self, batch: pa.RecordBatch, name: str) -> list[Any]:
        """Column `name` of `batch` as the Python values the gateway's checks take."""
        return column_values(batch, name, numeric=name in self.numeric)


def column_values(batch: pa.RecordBatch, name: str, *, numeric: bool) -> list[Any]:
    """Column `name` of `batch` as the Python values the gateway's checks take.

    Numbers are float64 (null: None); numeric text that all converts is converted,
    else left as text for the per-value checks to refuse row by row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(name)
    if numeric:
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            column = pc.cast(column, pa.float64())
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            # Some value is no number: the per-value checks say which.
            with contextlib.suppress(pa.ArrowInvalid):
                column = pc.cast(column, pa.float64())
    values: list[Any] = column.to_pylist()
    return values


def open_source(
    location: str, features: list[str], numeric: frozenset[str], *, keep: list[str]
) -> Source:
    """The input at `location` (file, folder, or fsspec URL), checked to hold every
    feature (and every column of `keep`); a DataError that says what is missing."""
    text = [*features, *keep]
    kind, dataset = _open(location, text)
    missing_columns(location, dataset.schema.names, features, keep)
    return Source(location, kind, dataset, text, numeric)


def missing_columns(location: str, names: list[str], features: list[str], keep: list[str]) -> None:
    """DataError when the input's columns `names` lack a feature (or a column of `keep`)."""
    present = set(names)
    missing = [name for name in [*features, *keep] if name not in present]
    if missing:
        shown = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise DataError(
            f"the input has no column {shown}; the model takes: {', '.join(features)}.",
            source=location,
            fix="Score data with the model's features (extra columns are ignored).",
        )


def open_table(location: str, *, text: tuple[str, ...] = ("request_id", "label")) -> ds.Dataset:
    """A CSV or Parquet file or folder as a dataset (CSV columns `text` read as text)."""
    return _open(location, list(text))[1]


def _open(location: str, text: list[str]) -> tuple[Literal["csv", "parquet"], ds.Dataset]:
    """(the format, the dataset) of a file or folder; a CSV's columns `text` as text."""
    import fsspec
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds

    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        raise DataError("file or folder not found.", source=location, fix="Check the path or URL.")
    if fs.isdir(path):
        files = sorted(
            f
            for f in fs.find(path)
            if f.lower().endswith(_SUFFIXES) and not _hidden(f[len(path) :])
        )
        if not files:
            raise DataError(
                "the folder holds no .parquet or .csv file.",
                source=location,
                fix="Point at a Parquet or CSV file, or a folder of them.",
            )
        kinds = {table_format(f) for f in files}
        if len(kinds) > 1:
            raise DataError(
                "the folder holds both Parquet and CSV files; score one format at a time.",
                source=location,
            )
        kind = kinds.pop()
    else:
        files = [path]
        kind = table_format(location)
    for name in files:
        with contextlib.suppress(OSError):
            if fs.size(name) == 0:
                raise DataError("the file is empty.", source=name if len(files) > 1 else location)
    file_format: ds.FileFormat
    if kind == "csv":
        delimiter = "\t" if files[0].lower().removesuffix(".gz").endswith(".tsv") else ","
        file_format = ds.CsvFileFormat(
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in text}, strings_can_be_null=True
            ),
        )
    else:
        file_format = ds.ParquetFileFormat()
    try:
        dataset = ds.dataset(files, filesystem=fs, format=file_format)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise DataError(
            f"cannot read it as {kind.upper()}: {_first_line(e)}.",
            source=location,
            fix=f"Check that it is {kind.upper()} and not damaged.",
        ) from e
    return kind, dataset


def _hidden(relative: str) -> bool:
    """Whether a file under the folder is hidden or a writer's marker (_SUCCESS, .crc)."""
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= 160 else line[:157] + "..."
