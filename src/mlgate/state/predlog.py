"""The prediction log: append-only Parquet segments, written off the request path.

Records go into an in-memory buffer; a background thread writes them out as a
new Parquet segment every `interval` seconds (or sooner when the buffer is
full), and `close()` writes whatever is left, so a graceful shutdown loses
nothing. A writer given a `build` function buffers cheap entries instead of
records and turns them into a table in the background thread, so the request
path only queues a tuple. Segments live under `<root>/<kind>/date=YYYY-MM-DD/`, on local disk or
any fsspec URL, and are read back with DuckDB.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["SegmentWriter", "read_log"]

log = logging.getLogger(__name__)

#: Turns buffered entries into a pyarrow Table, in the writer thread.
Build = Callable[[list[Any]], Any]


class SegmentWriter:
    """A buffered writer of Parquet segments for one kind of record.

    Without `build`, the buffer holds dict records (`append`). With `build`, it
    holds whatever `add` is given, and `build(entries)` makes the segment's table.
    """

    def __init__(
        self,
        root: str,
        kind: str,
        *,
        interval: float = 1.0,
        max_rows: int = 50_000,
        build: Build | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.kind = kind
        self.interval = interval
        self.max_rows = max_rows
        self.build = build
        self._buffer: list[Any] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failures = 0

    def check(self) -> None:
        """Write and remove a probe file where segments go; ConfigError when that fails
        (a log nobody can write loses every record, and a rollout has nothing to judge)."""
        import fsspec

        from mlgate.errors import ConfigError

        folder = f"{self.root}/{self.kind}"
        try:
            fs, path = fsspec.core.url_to_fs(folder)
            fs.makedirs(path, exist_ok=True)
            probe = f"{path}/.probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            with fs.open(probe, "wb") as handle:
                handle.write(b"")
            fs.rm(probe)
        except Exception as e:
            raise ConfigError(
                f"cannot write the {self.kind} log at {folder}: {type(e).__name__}: {e}",
                field="MLGATE_LOG_PATH",
                fix="Set MLGATE_LOG_PATH to a folder (or fsspec URL) this process can write, "
                "or unset it for .mlgate/logs.",
            ) from None

    def start(self) -> SegmentWriter:
        """Start the background flusher (idempotent)."""
        if self._thread is None:
            # Imported here, not at the first flush: importing pyarrow holds the GIL for
            # a good while, which would stall the requests being served then.
            import fsspec  # noqa: F401
            import pyarrow.parquet  # noqa: F401

            self._thread = threading.Thread(
                target=self._loop, name=f"mlgate-{self.kind}-writer", daemon=True
            )
            self._thread.start()
        return self

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Queue records; never blocks on I/O."""
        with self._lock:
            before = len(self._buffer)
            self._buffer.extend(records)
            self._rows += len(self._buffer) - before
            full = self._rows >= self.max_rows
        if full:
            self._wake.set()

    def add(self, entry: Any, rows: int = 1) -> None:
        """Queue one entry that `build` turns into `rows` records later; never blocks on I/O."""
        with self._lock:
            self._buffer.append(entry)
            self._rows += rows
            full = self._rows >= self.max_rows
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write everything buffered now as one segment; the number of records written."""
        with self._lock:
            batch, self._buffer = self._buffer, []
            rows, self._rows = self._rows, 0
        if not batch:
            return 0
        try:
            written = self._write(batch)
        except Exception:  # keep serving; put the records back to try again
            log.exception("writing a %s segment failed; will retry", self.kind)
            self.failures += 1
            with self._lock:
                self._buffer[:0] = batch
                self._rows += rows
            return 0
        self.written += written
        return written

    def close(self) -> None:
        """Stop the flusher and write what is left."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def _write(self, batch: list[Any]) -> int:
        import fsspec
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(batch) if self.build is None else self.build(batch)
        if table.num_rows == 0:
            return 0
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        folder = f"{self.root}/{self.kind}/date={day}"
        fs, path = fsspec.core.url_to_fs(folder)
        fs.makedirs(path, exist_ok=True)
        final = f"{path}/{name}"
        temporary = f"{path}/.{name}.tmp"
        with fs.open(temporary, "wb") as handle:
            pq.write_table(table, handle)
        fs.mv(temporary, final)  # readers never see half a segment
        return int(table.num_rows)


def read_log(root: str, kind: str, sql: str = "SELECT * FROM log") -> Any:
    """Run `sql` over every segment of `kind` under `root` (the table is called `log`).

    The other kinds written under `root` are tables too, named after their kind, so
    labels join to predictions in one query::

        read_log(root, "predictions", "SELECT l.request_id, l.prediction, f.label "
                 "FROM log l JOIN feedback f USING (request_id, row)")

    Returns a pandas DataFrame; an empty one when nothing of `kind` has been written yet.
    """
    import duckdb
    import pandas as pd

    tables = {name: _segments(root, name) for name in {kind, *_EMPTY}}
    if not tables[kind][1]:
        return pd.DataFrame()
    connection = duckdb.connect()
    try:
        registered: set[str] = set()
        for name, (fs, uris) in tables.items():
            if not uris:
                continue
            if fs is not None and str(fs.protocol) not in registered:
                connection.register_filesystem(fs)
                registered.add(str(fs.protocol))
            relation = connection.read_parquet(uris, union_by_name=True)
            connection.register("log" if name == kind else name, relation)
        return connection.execute(sql).fetchdf()
    finally:
        connection.close()


def _segments(root: str, kind: str) -> tuple[Any, list[str]]:
    """(the filesystem DuckDB must be given, or None for local files; the segment URIs)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(f"{root.rstrip('/')}/{kind}")
    files = list(fs.glob(f"{path}/date=*/*.parquet")) if fs.exists(path) else []
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return None, files
    return fs, [f"{protocol}://{f}" for f in files]


def query_logs(
    root: str,
    sql: str,
    params: list[Any] | dict[str, Any] | None = None,
    *,
    as_frame: bool = False,
) -> Any:
    """Run `sql` with views `predictions` and `feedback` over every segment under `root`.

    A view with no segments yet is an empty table with the columns queries need,
    so a query works from the first second of a rollout. Rows come back as
    tuples, or as a pandas DataFrame with `as_frame`.
    """
    import duckdb
    import fsspec

    connection = duckdb.connect()
    try:
        for kind, empty in _EMPTY.items():
            fs, path = fsspec.core.url_to_fs(f"{root.rstrip('/')}/{kind}")
            files = list(fs.glob(f"{path}/date=*/*.parquet")) if fs.exists(path) else []
            protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            if files:
                if protocol not in ("file", "local"):
                    connection.register_filesystem(fs)
                    files = [f"{protocol}://{f}" for f in files]
                relation = connection.read_parquet(files, union_by_name=True)
                connection.register(kind, relation)
            else:
                connection.execute(f"CREATE VIEW {kind} AS SELECT * FROM ({empty}) WHERE false")
        result = connection.execute(sql, params or [])
        return result.fetchdf() if as_frame else result.fetchall()
    finally:
        connection.close()


_EMPTY = {
    "predictions": (
        "SELECT TIMESTAMPTZ '2000-01-01' AS time, '' AS request_id, 0 AS row, '' AS model, "
        "'' AS version, '' AS role, true AS served, '' AS strategy, 0.0 AS weight, "
        "'' AS key, '' AS route, 0.0 AS latency_ms, '' AS prediction, 0.0 AS score, "
        "'' AS error, CAST(NULL AS STRUCT(_ VARCHAR)) AS features"
    ),
    "feedback": (
        "SELECT TIMESTAMPTZ '2000-01-01' AS time, '' AS request_id, 0 AS row, '' AS label, "
        "'' AS model"
    ),
}
