"""One writer at a time on a SQLite registry: a lock file beside the database.

Two `mlgate run` started at once on a fresh project both find no tables and both
create them (MLflow's migrations then fail on "table already exists"); two
registering at once both find no champion and both take it. Every process that
opens a SQLite registry, or registers into one, holds an exclusive `flock` on
`<database>.lock` meanwhile. The kernel drops the lock of a process that dies,
so a killed run never leaves it held.

A registry on a server (an MLflow tracking server, PostgreSQL) has no file to
lock; its writers are kept apart by whoever starts them (the generated
workflows share one concurrency group).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from mlgate.errors import RegistryError

__all__ = ["WAIT", "registry_lock", "sqlite_file"]

#: Seconds a process waits for another to finish creating or registering. Creating the
#: tables takes MLflow a few seconds; registering one version, with its files, under a
#: minute on a slow disk.
WAIT = 600.0

_POLL = 0.05


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI opened for writing; None for any other
    registry (a server, an in-memory database, a file opened read-only)."""
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri.removeprefix("sqlite:///")
    path, _, query = rest.partition("?")
    if path.startswith("file:"):  # SQLite's own URI form: sqlite:///file:PATH?mode=ro&uri=true
        options = parse_qs(query)
        if options.get("mode", [""])[0] == "ro" or options.get("immutable", [""])[0] == "1":
            return None
        path = unquote(urlsplit(path).path)
    if not path or path == ":memory:":
        return None
    return Path(path)


@contextmanager
def registry_lock(uri: str, *, wait: float = WAIT) -> Iterator[None]:
    """Hold the registry's lock for the block when `uri` is a SQLite file; else nothing.

    Not re-entrant: a thread that holds it and asks again waits for itself.
    """
    database = sqlite_file(uri)
    handle = _open(database) if database is not None else None
    if database is None or handle is None:
        yield
        return
    try:
        _acquire(handle, database, wait)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def _open(database: Path) -> int | None:
    """The lock file's descriptor; None where there is no lock to take (no fcntl, or a
    folder this process cannot write, where it cannot write the registry either)."""
    try:
        import fcntl  # noqa: F401  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        return None
    lock = database.with_name(database.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        logging.getLogger(__name__).warning("no registry lock at %s (%s)", lock, e)
        return None


def _acquire(handle: int, database: Path, wait: float) -> None:
    import fcntl

    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Who holds it, for the message of a process that gives up waiting.
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(handle, 20, 0).decode(errors="replace").strip()
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise RegistryError(
                    f"another mlgate process{who} has held the registry {database} for over "
                    f"{wait:g} s (the lock {database.name}.lock beside it).",
                    fix="Wait for the other `mlgate run` to finish, or stop it, then run again.",
                ) from None
            time.sleep(_POLL)
