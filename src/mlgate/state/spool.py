"""The log's spool: every record appended to a local file before its answer is sent.

Each process keeps one `Spool` per kind of log (predictions, feedback). A
record is one JSON line, appended with one `os.write` to a file opened with
O_APPEND: once the call returns, the kernel holds it, and a process killed a
moment later (SIGKILL included) has lost nothing. A background thread fsyncs the
file every `sync_interval` seconds, which bounds what a crash of the machine
loses, and starts a new file (rotates) so the one before can be turned into a
Parquet segment (`mlgate.state.convert`), in another process, off the request
path. With `sync_interval=0` every write goes through to the disk (O_DSYNC).

A process holds an exclusive `flock` on the file it appends to; the kernel
releases it when the file is closed or the process dies, however it dies. The
converter takes only files it can lock: rotated ones, and those of dead
processes. A new file is created under a hidden name, locked, and only then
given its name, so the converter never sees a file its writer has not locked.

A write that fails (a full disk) raises `LogUnavailable`, is counted, and is
recorded with its reason; the spool knows since when it has been failing, for
readiness. A record cut short by a full disk is cut off the file again, so
every line in a spool file is a whole record (but for a crash of the machine).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate.errors import LogUnavailable

__all__ = ["STOP", "SUFFIX", "Spool"]

log = logging.getLogger(__name__)

#: The name ending of spool files; a file being created is `.<name>.new` until locked.
SUFFIX = ".jsonl"
#: What `mlgate serve` writes on its converter's stdin, then closes, to stop it: a stdin
#: that ends without it means the server is gone.
STOP = b"stop\n"
#: Seconds between rotations when every write is synced (`sync_interval=0`).
_ROTATE_SYNCED = 1.0
#: Bytes a failing spool writes to a probe file each tick, to see if it may write again.
_PROBE_BYTES = 64 * 1024


class Spool:
    """Appends records of one `kind` to a spool file of this process under `root/kind`.

    `refused` ends the message of the `LogUnavailable` raised when a record cannot
    be written ("the answer was not sent"); `on_failure` is called once per failure
    (the gateway counts them in its metrics).
    """

    def __init__(
        self,
        root: str,
        kind: str,
        *,
        sync_interval: float = 1.0,
        refused: str = "the answer was not sent",
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.folder = Path(root) / kind
        self.kind = kind
        self.sync_interval = sync_interval
        self.refused = refused
        self.on_failure = on_failure
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0  # bytes in the current file: a short write is cut back to this
        self._unsynced = False
        self._rotation_failed = False
        self._torn = False  # a cut-short record could not be cut off: end its line first
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Records and bytes written by this process.
        self.records = 0
        self.bytes = 0
        #: Writes (and fsyncs) that failed, the last one's reason, and since when (monotonic
        #: seconds) writes have been failing; None while they succeed.
        self.failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.failing_since: float | None = None

    # lifecycle ------------------------------------------------------------------------

    def check(self) -> None:
        """ConfigError when no spool file can be created here (checked before serving:
        a gateway that cannot record its answers would refuse every one)."""
        from mlgate.errors import ConfigError

        try:
            fd, path = self._create()
        except OSError as e:
            raise ConfigError(
                f"cannot write the {self.kind} log's spool in {self.folder}: {e.strerror or e}",
                field="MLGATE_SPOOL_PATH",
                fix="Set MLGATE_SPOOL_PATH (or MLGATE_LOG_PATH) to a local folder this "
                "process can write, or unset them for the defaults.",
            ) from None
        os.close(fd)
        path.unlink()

    def open(self) -> Spool:
        """Create the folder and this process's first spool file (idempotent)."""
        with self._lock:
            if self._fd is None:
                self._fd, self._path = self._create()
                self._size = 0
        return self

    def start(self) -> Spool:
        """Open, and start the thread that fsyncs and rotates (idempotent)."""
        self.open()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name=f"mlgate-{self.kind}-spool", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread, fsync and close the file (the converter takes it from there)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._lock:
            fd, self._fd = self._fd, None
            empty, path = self._size == 0 and not self._torn, self._path
        if fd is not None:
            if empty and path is not None:  # still held: nobody else can be reading it
                with contextlib.suppress(OSError):
                    path.unlink()
            self._sync(fd)
            os.close(fd)

    @property
    def path(self) -> Path | None:
        """The file records go to now."""
        return self._path

    # writing --------------------------------------------------------------------------

    def write(self, data: bytes, records: int = 1) -> None:
        """Append `data` (whole JSON lines, `records` of them); LogUnavailable when it
        cannot be, and nothing of it stays in the file."""
        with self._lock:
            fd = self._fd
            if fd is None:  # not opened yet (an app run without its lifespan), or closed
                fd = self._fd = self._opened()
            if self._torn:
                data = b"\n" + data
            try:
                written = os.write(fd, data)
            except OSError as e:
                raise self._failed(e) from e
            if written != len(data):  # the disk filled up halfway through the record
                try:
                    os.ftruncate(fd, self._size)
                except OSError:
                    self._torn = True
                    self._size += written
                raise self._failed(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
            self._size += written
            self._torn = False
            self._unsynced = True
            self.records += records
            self.bytes += written
            self.failing_since = None

    def _opened(self) -> int:
        """A new file for a write that found none open; the caller holds the lock."""
        try:
            fd, self._path = self._create()
        except OSError as e:
            raise self._failed(e) from e
        self._size = 0
        return fd

    def _failed(self, error: OSError) -> LogUnavailable:
        """Note a failure (count, reason, since when); the error to raise for it."""
        reason = error.strerror or str(error)
        now = time.monotonic()
        self.failures += 1
        self.last_error, self.last_error_at = reason, time.time()
        if self.failing_since is None:
            self.failing_since = now
            log.error("cannot write the %s spool in %s: %s", self.kind, self.folder, reason)
        if self.on_failure is not None:
            self.on_failure()
        return LogUnavailable(self.kind, str(self.folder), reason, refused=self.refused)

    # the background thread ------------------------------------------------------------

    def _loop(self) -> None:
        interval = self.sync_interval or _ROTATE_SYNCED
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception:  # keep fsyncing: one bad tick must not end the thread
                log.exception("the %s spool's tick failed", self.kind)

    def tick(self) -> None:
        """What the thread does every interval: probe a failing disk, then rotate a file
        that has records (fsynced first)."""
        if self.failing_since is not None:
            self._probe()
        if self._unsynced:
            self.rotate()

    def rotate(self) -> Path | None:
        """Start a new file; the one before is fsynced and closed, ready to convert.
        Returns it (None when there was none, or no new file could be made)."""
        try:
            fresh, path = self._create()
        except OSError as e:  # keep appending to the current file; fsync it at least
            with self._lock:
                fd = self._fd
            if fd is not None:
                self._sync(fd)
            if not self._rotation_failed:  # once, not every tick of a full disk
                log.warning("cannot start a new %s spool file: %s", self.kind, e)
            self._rotation_failed = True
            return None
        self._rotation_failed = False
        with self._lock:
            old, old_path = self._fd, self._path
            self._fd, self._path, self._size = fresh, path, 0
            self._unsynced = self._torn = False
        if old is None:
            return None
        self._sync(old)
        os.close(old)  # releases the lock: the converter may take it now
        return old_path

    def sync(self) -> None:
        """fsync the current file now."""
        with self._lock:
            fd = self._fd
        if fd is not None:
            self._sync(fd)

    def _sync(self, fd: int) -> None:
        if self.sync_interval == 0:
            return  # written through already (O_DSYNC)
        try:
            os.fsync(fd)
        except OSError as e:  # the kernel may have dropped records: say so
            self.failures += 1
            self.last_error, self.last_error_at = f"fsync: {e.strerror or e}", time.time()
            log.error("fsync of the %s spool failed: %s", self.kind, e)
            if self.on_failure is not None:
                self.on_failure()

    def _probe(self) -> None:
        """Write (then remove) a probe file: when that works, the spool is not failing."""
        probe = self.folder / f".probe-{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                written = os.write(fd, bytes(_PROBE_BYTES))
            finally:
                os.close(fd)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        if written == _PROBE_BYTES:
            log.info("the %s spool in %s can be written again", self.kind, self.folder)
            self.failing_since = None

    def _create(self) -> tuple[int, Path]:
        """A new spool file of this process, locked, under its final name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        hidden = self.folder / f".{name}.new"
        final = self.folder / name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        if self.sync_interval == 0:
            flags |= os.O_DSYNC
        fd = os.open(hidden, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, final)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                hidden.unlink()
            raise
        return fd, final

    # health ---------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What health checks show: records written, failures, the last one's reason,
        and for how long writes have been failing (None: they are not)."""
        since = self.failing_since
        return {
            "records": self.records,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "failing_for_s": None if since is None else round(time.monotonic() - since, 3),
        }
