"""The prediction log: append-only Parquet segments, and reading them with DuckDB.

Segments live under `<root>/<kind>/date=YYYY-MM-DD/`, on local disk or any
fsspec URL. The gateway does not write them while it serves: it appends each
answer's record to its spool (`mlgate.state.spool`), and the converter
(`mlgate.state.convert`) turns spool files into segments with `write_segment`,
in another process. A segment appears whole or not at all: it is written under
a hidden temporary name, fsynced on local disk, then renamed; the temporary
file is removed on any failure, so a full disk is not kept full by the writer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from typing import Any

__all__ = ["check_writable", "query_logs", "read_log", "segment_path", "write_segment"]

log = logging.getLogger(__name__)


def check_writable(root: str, kind: str) -> None:
    """Write and remove a probe file where segments of `kind` go; ConfigError when that
    fails (a log nobody can write loses every record, and a rollout has nothing to judge)."""
    import fsspec

    from mlgate.errors import ConfigError

    folder = f"{root.rstrip('/')}/{kind}"
    try:
        fs, path = fsspec.core.url_to_fs(folder)
        fs.makedirs(path, exist_ok=True)
        probe = f"{path}/.probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with fs.open(probe, "wb") as handle:
            handle.write(b"")
        fs.rm(probe)
    except Exception as e:
        raise ConfigError(
            f"cannot write the {kind} log at {folder}: {type(e).__name__}: {e}",
            field="MLGATE_LOG_PATH",
            fix="Set MLGATE_LOG_PATH to a folder (or fsspec URL) this process can write, "
            "or unset it for .mlgate/logs.",
        ) from None


def segment_path(root: str, kind: str, day: str, name: str) -> tuple[Any, str]:
    """(the filesystem, the path) of segment `name` of `kind` written on `day`."""
    import fsspec

    fs, folder = fsspec.core.url_to_fs(f"{root.rstrip('/')}/{kind}/date={day}")
    return fs, f"{folder}/{name}"


def write_segment(root: str, kind: str, table: Any, *, day: str, name: str) -> bool:
    """Write `table` as segment `name` (ending .parquet) of `kind` in `date=day`; False,
    writing nothing, when that segment is there already (a conversion done before)."""
    import pyarrow.parquet as pq

    fs, final = segment_path(root, kind, day, name)
    if fs.exists(final):
        return False
    folder, _, base = final.rpartition("/")
    fs.makedirs(folder, exist_ok=True)
    temporary = f"{folder}/.{base}.{os.getpid()}.tmp"
    local = _is_local(fs)
    try:
        if local:
            with open(temporary, "wb") as handle:
                pq.write_table(table, handle)
                handle.flush()
                os.fsync(handle.fileno())  # on disk before its spool file is removed
        else:
            with fs.open(temporary, "wb") as handle:
                pq.write_table(table, handle)
        fs.mv(temporary, final)  # readers never see half a segment
    except BaseException:
        with contextlib.suppress(Exception):
            if fs.exists(temporary):
                fs.rm(temporary)
        raise
    if local:
        _sync_folder(folder)
    return True


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def _sync_folder(folder: str) -> None:
    """fsync a folder, so the names in it (a segment renamed in) survive a crash."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
        "'' AS error, '' AS client_request_id, '' AS arm, "
        "CAST(NULL AS STRUCT(_ VARCHAR)) AS features"
    ),
    "feedback": (
        "SELECT TIMESTAMPTZ '2000-01-01' AS time, '' AS request_id, 0 AS row, '' AS label, "
        "'' AS model"
    ),
}
