"""Reading tables: CSV and Parquet, local paths or fsspec URLs, into Arrow, pandas or polars."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

__all__ = ["read_arrow", "read_pandas", "read_polars", "table_format"]

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".tsv": "csv"}
_COMPRESSED = (".gz", ".bz2", ".zst", ".xz")


def table_format(location: str) -> Literal["csv", "parquet"]:
    """The format a location's name announces, or a DataError listing the ones read."""
    name = location.rsplit("/", 1)[-1].lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    for suffix, kind in _FORMATS.items():
        if name.endswith(suffix):
            return "parquet" if kind == "parquet" else "csv"
    raise DataError(
        "unknown file type",
        source=location,
        fix="mlgate reads .csv, .tsv and .parquet files (CSV may be .gz, .bz2, .zst or .xz).",
    )


def read_arrow(location: str | Path) -> pa.Table:
    """The table at `location` as Arrow, or a DataError that says why it cannot be read."""
    import fsspec
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    location = str(location)
    kind = table_format(location)
    if "://" not in location:
        path = Path(location)
        if not path.exists():
            raise DataError("file not found", source=location, fix="Check the path.")
        if path.is_dir():
            raise DataError("expected a file, found a folder", source=location)
        if path.stat().st_size == 0:
            raise DataError("the file is empty", source=location)
    try:
        with fsspec.open(location, "rb", compression="infer") as handle:
            if kind == "parquet":
                return pq.read_table(handle)
            delimiter = "\t" if ".tsv" in location.lower() else ","
            return pacsv.read_csv(
                handle,
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
    except DataError:
        raise
    except FileNotFoundError as e:
        raise DataError("file not found", source=location, fix="Check the path or URL.") from e
    except PermissionError as e:
        raise DataError("permission denied", source=location) from e
    except (pa.ArrowInvalid, pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"cannot read it as {kind.upper()}: {detail}",
            source=location,
            fix=f"Check that the file is {kind.upper()} and not damaged.",
        ) from e


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


def _local_parquet(location: str) -> bool:
    """Whether `location` names an uncompressed Parquet file on this machine."""
    if "://" in location or table_format(location) != "parquet":
        return False
    if location.lower().endswith(_COMPRESSED):
        return False
    path = Path(location)
    return path.is_file() and path.stat().st_size > 0
