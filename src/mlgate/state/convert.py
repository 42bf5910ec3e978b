"""Spool files into Parquet segments, outside the request path.

`mlgate serve` runs the converter in a process of its own beside the workers
(`run`), at a lower CPU priority; an in-process gateway (tests, a library user)
runs it on a thread. Either way it starts with what is already there: the spool
files of a gateway that was killed are converted at the next start.

A pass takes every spool file no process holds (`mlgate.state.spool`: rotated
files, and those of dead processes), reads it in chunks of at most
`chunk_bytes`, and writes chunk `i` of file `F` as the segment `F-i.parquet`
dated by its first record. The names are fixed by the spool file, so a pass
cut short (killed between writing a segment and removing its spool file)
writes nothing twice when it runs again. Then the spool file is removed.

A chunk that cannot be made into a table, or a line that is no record (one cut
short by a crash of the machine), is quarantined: written with the reason to
`<spool>/dead-letter/<kind>/`, and the converter moves on. A chunk whose
segment cannot be stored (a full disk, storage unreachable) stays in the spool
and is tried again at the next pass; nothing is held in memory meanwhile. What
the converter did and its last error go to `<spool>/converter.json`, which the
gateway's health checks and metrics read.

Its parts: `_taking` says which spool files may be taken and reads them in
chunks, `_tables` makes a chunk into a table and sets aside the records it
cannot take, `_status` keeps the status file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlgate.state._priority import Background
from mlgate.state._status import ERROR_CHARS, STATUS, StatusFile, fresh, read_status
from mlgate.state._tables import Build, parsed, table_of
from mlgate.state._taking import chunks, locked, remove_abandoned, same_file, size_of, spool_files
from mlgate.state.layout import BUILDERS
from mlgate.state.predlog import write_segment
from mlgate.state.spool import STOP, SUFFIX

__all__ = ["STATUS", "Converter", "read_status", "run"]

log = logging.getLogger(__name__)

#: Most bytes of spool records made into one segment (a record is never split).
CHUNK_BYTES = 32 * 1024 * 1024


class _StorageFailed(Exception):
    """A segment could not be stored: the spool file stays, for the next pass."""


class Converter:
    """Turns the spool files under `spool_root` into segments under `log_root`."""

    def __init__(
        self,
        spool_root: str,
        log_root: str,
        *,
        builders: dict[str, Build] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.spool_root = Path(spool_root)
        self.log_root = log_root
        self.builders = BUILDERS if builders is None else builders
        self.chunk_bytes = chunk_bytes
        self.status: dict[str, dict[str, Any]] = {kind: fresh() for kind in self.builders}
        self._status_file = StatusFile(self.spool_root)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # passes ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """One pass over every kind; the rows written. Skipped (0) while another
        converter holds the spool."""
        self.spool_root.mkdir(parents=True, exist_ok=True)
        with locked(self.spool_root / ".converter.lock", wait=False) as held:
            if not held:
                return 0
            rows = sum(self._convert_kind(kind) for kind in self.builders)
        self._status_file.save(self.status)
        return rows

    def drain(self, seconds: float = 30.0) -> None:
        """Pass until no spool file is left (writers closing theirs meanwhile), or
        `seconds` have gone by, or storage keeps failing."""
        deadline = time.monotonic() + seconds
        while True:
            self.run_once()
            left = self.pending()
            failing = any(s["failing_since"] is not None for s in self.status.values())
            if not left or failing or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def pending(self) -> int:
        """Spool files with records not converted yet (held by a writer or not)."""
        return sum(
            1 for kind in self.builders for p in spool_files(self.spool_root / kind) if size_of(p)
        )

    # in a thread ----------------------------------------------------------------------

    def start(self, interval: float = 1.0) -> Converter:
        """Convert every `interval` seconds on a thread of this process (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, args=(interval,), name="mlgate-log-converter", daemon=True
            )
            self._thread.start()
        return self

    def close(self, drain: float = 30.0) -> None:
        """Stop the thread, then convert what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.drain(drain)
        self._status_file.close()

    def _loop(self, interval: float) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # a pass that failed is tried again; it must not end the loop
                log.exception("converting the log's spool failed")
            if self._stop.wait(interval):
                return

    # one kind, one file ---------------------------------------------------------------

    def _convert_kind(self, kind: str) -> int:
        folder = self.spool_root / kind
        status = self.status[kind]
        rows = 0
        remove_abandoned(folder)
        for path in spool_files(folder):
            try:
                rows += self._convert_file(kind, path)
            except _StorageFailed as e:
                status["failures"] += 1
                self._note(kind, f"cannot store a segment: {e}")
                if status["failing_since"] is None:
                    status["failing_since"] = time.time()
                    log.error("cannot store a %s log segment (will retry): %s", kind, e)
                break  # the same storage fails for the next file too: try at the next pass
        else:
            if status["failing_since"] is not None:
                log.info("the %s log is stored again", kind)
            status["failing_since"] = None
        sizes = [size for p in spool_files(folder) if (size := size_of(p))]
        status["pending_files"] = len(sizes)  # with records: a writer's fresh file is empty
        status["pending_bytes"] = sum(sizes)
        return rows

    def _convert_file(self, kind: str, path: Path) -> int:
        """Convert one spool file no writer holds; 0 when a writer holds it."""
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # another pass took it
            return 0
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process writes to it still
                return 0
            if not same_file(handle, path):  # removed (and converted) meanwhile
                return 0
            rows = 0
            for number, chunk in enumerate(chunks(handle, self.chunk_bytes)):
                rows += self._convert_chunk(kind, path, number, chunk)
            path.unlink()
        return rows

    def _convert_chunk(self, kind: str, path: Path, number: int, lines: list[bytes]) -> int:
        status = self.status[kind]
        records: list[dict[str, Any]] = []
        read: list[bytes] = []
        unreadable: list[bytes] = []
        for line in lines:
            if line == b"\n":
                continue
            record = parsed(line)
            if record is None:
                unreadable.append(line)
                continue
            records.append(record)
            read.append(line)
        stem = path.name.removesuffix(SUFFIX)
        if unreadable:
            reason = "records that are not whole JSON objects (cut short by a crash?)"
            self._quarantine(kind, f"{stem}-{number:04d}-unreadable", reason, path, unreadable)
        if not records:
            return 0
        built, rejected = table_of(self.builders[kind], records, read)
        if rejected:  # records the table cannot take: set aside with why, the rest go on
            reasons = list(dict.fromkeys(reason for _, reason in rejected))
            reason = "cannot build the table: " + "; ".join(reasons[:5])
            lines_out = [line for line, _ in rejected]
            self._quarantine(kind, f"{stem}-{number:04d}-rejected", reason, path, lines_out)
        if built is None:
            return 0
        table, day = built
        try:
            written = write_segment(
                self.log_root, kind, table, day=day, name=f"{stem}-{number:04d}.parquet"
            )
        except OSError as e:
            raise _StorageFailed(f"{type(e).__name__}: {e}") from e
        except Exception as e:  # the table cannot be written as Parquet: set it aside
            reason = f"cannot write the segment: {type(e).__name__}: {e}"
            self._quarantine(kind, f"{stem}-{number:04d}", reason, path, read)
            return 0
        if written:
            status["rows"] += table.num_rows
            status["segments"] += 1
        return int(table.num_rows) if written else 0

    def _quarantine(
        self, kind: str, name: str, reason: str, source: Path, lines: list[bytes]
    ) -> None:
        """Write `lines` with `reason` to the dead-letter folder; count and log them."""
        folder = self.spool_root / "dead-letter" / kind
        target = folder / f"{name}{SUFFIX}"
        header = {
            "reason": reason,
            "source": str(source),
            "records": len(lines),
            "at": datetime.now(UTC).isoformat(),
        }
        temporary = folder / f".{name}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as handle:
                handle.write(json.dumps(header).encode() + b"\n")
                for line in lines:
                    handle.write(line if line.endswith(b"\n") else line + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(target)
        except OSError as e:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise _StorageFailed(f"cannot quarantine to {folder}: {e}") from e
        status = self.status[kind]
        status["quarantined"] += 1
        status["quarantined_records"] += len(lines)
        self._note(kind, f"quarantined {len(lines)} record(s) to {target}: {reason}")
        log.error("quarantined %d %s record(s) to %s: %s", len(lines), kind, target, reason)

    def _note(self, kind: str, error: str) -> None:
        status = self.status[kind]
        status["last_error"] = error[:ERROR_CHARS]
        status["last_error_at"] = time.time()


# the converter's own process ----------------------------------------------------------


def run(spool_root: str, log_root: str, interval: float = 1.0, parent: int | None = None) -> None:
    """Convert every `interval` seconds until stdin closes (the server stopping it, or
    gone), SIGTERM or SIGINT, or `parent` is gone; then convert what is left, and return.

    The process entry of `mlgate serve`'s converter: it runs at the lowest CPU
    priority and on one thread, so that converting does not take a core from
    answering; under a load that leaves no CPU to spare it falls behind (the spool
    grows, `mlgate_log_pending_bytes`) and catches up when the load eases.
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: stop.set())
    gone = threading.Event()
    if parent is not None:  # the server says stop on our stdin, or dies (and it closes)
        threading.Thread(target=_until_told, args=(stop, gone), daemon=True).start()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    # The workers' CPU first: converting can wait a moment, answers cannot.
    background = Background()
    import pyarrow as pa

    pa.set_cpu_count(1)  # one core at a time, not a burst on every core
    converter = Converter(spool_root, log_root)
    while not stop.is_set():
        background.cover()  # pyarrow starts its threads when first used
        try:
            converter.run_once()
        except Exception:
            log.exception("converting the log's spool failed")
        if parent is not None and os.getppid() != parent:
            gone.set()
            break
        stop.wait(interval)
    if gone.is_set():
        log.info("the gateway is gone; converting what it left")
    converter.close(drain=60.0)


def _until_told(stop: threading.Event, gone: threading.Event) -> None:
    """Set `stop` once stdin ends: after `STOP` (the server stopping), or without it (the
    server is gone: `gone` set too)."""
    told = b""
    with contextlib.suppress(OSError, ValueError):
        told = sys.stdin.buffer.read()
    if told != STOP:
        gone.set()
    stop.set()


if __name__ == "__main__":  # `mlgate serve` starts it so: SPOOL LOG INTERVAL PARENT
    run(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
