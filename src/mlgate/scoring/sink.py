"""Where predictions go: a Parquet file, or a folder of part files, that appears whole.

Rows are written under a hidden temporary name next to the output as they are
scored (a row group per batch: memory stays bounded), and the output takes its
name only when every batch is in. A run stopped part way (--strict, a crash,
Ctrl-C) leaves no output, and removes its temporary file when it can.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

__all__ = ["PART", "Sink", "check_output", "is_file_output", "unwritable"]

_FILE_SUFFIXES = (".parquet", ".pq")
#: The part file a folder output holds (the local engine writes one).
PART = "part-00000.parquet"


def is_file_output(location: str) -> bool:
    """Whether `location` names a Parquet file (else a folder of part files)."""
    return location.lower().endswith(_FILE_SUFFIXES)


class Sink:
    """Writes record batches of `schema` to `location`; `commit` gives it its name."""

    def __init__(self, location: str, schema: pa.Schema, *, overwrite: bool = False) -> None:
        import fsspec

        self.location = location
        self.fs, self.path = fsspec.core.url_to_fs(location)
        check_output(self.fs, self.path, location, overwrite=overwrite)
        folder, _, base = self.path.rstrip("/").rpartition("/")
        self.folder = folder or "."
        self.temporary = f"{self.folder}/.{base}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self.file = is_file_output(location)
        target = self.temporary if self.file else f"{self.temporary}/{PART}"
        self.schema = schema
        self._writer: Any = None
        self.rows = 0
        with self._writing():
            self.fs.makedirs(self.folder, exist_ok=True)
            if not self.file:
                self.fs.makedirs(self.temporary, exist_ok=True)
            self._handle = self.fs.open(target, "wb")

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """An OSError as a ConfigError naming the output the user gave, not the
        temporary file it is written under."""
        try:
            yield
        except OSError as e:
            raise unwritable(self.location, e) from e

    def write(self, batch: pa.RecordBatch) -> None:
        """Append `batch` (one row group)."""
        import pyarrow.parquet as pq

        with self._writing():
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._handle, self.schema)
            self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self) -> None:
        """Close the file and give the output its name."""
        import pyarrow.parquet as pq

        with self._writing():
            if self._writer is None:  # no row passed: still a file, with the columns
                self._writer = pq.ParquetWriter(self._handle, self.schema)
            self._writer.close()
            self._handle.close()
            if self.fs.exists(self.path):  # --overwrite; checked when the sink was opened
                self.fs.rm(self.path, recursive=True)
            self.fs.mv(self.temporary, self.path, recursive=not self.file)

    def abort(self) -> None:
        """Close and remove the temporary file: nothing partial is left."""
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
            self._handle.close()
        with contextlib.suppress(Exception):
            if self.fs.exists(self.temporary):
                self.fs.rm(self.temporary, recursive=True)


def check_output(fs: Any, path: str, location: str, *, overwrite: bool) -> None:
    """ConfigError when the output is there already (and not to be overwritten)."""
    if fs.exists(path) and not overwrite:
        raise ConfigError(
            "the output is there already.",
            file=location,
            field="OUTPUT",
            fix="Name another output, or pass --overwrite to replace it.",
        )


def unwritable(location: str, error: OSError) -> ConfigError:
    """The error an OSError writing the output becomes, naming the OUTPUT the user gave
    (never the temporary file or folder it is written under)."""
    problem = (error.strerror or type(error).__name__).lower()
    if isinstance(error, FileExistsError | NotADirectoryError):
        problem = "a part of its path is a file, not a folder"
    return ConfigError(
        f"cannot write the output: {problem}.",
        file=location,
        field="OUTPUT",
        fix="Check that its folder exists and that you may write there.",
    )
