"""The converter's side of the spool folder: which files it may take, and how it reads them.

A writer holds an exclusive `flock` on the file it appends to (`mlgate.state.spool`),
so a file the converter can lock is one no process writes to any more.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from mlgate.state.spool import SUFFIX

__all__ = ["chunks", "locked", "remove_abandoned", "same_file", "size_of", "spool_files"]


@contextlib.contextmanager
def locked(path: Path, *, wait: bool) -> Iterator[bool]:
    """Hold an exclusive flock on `path`; yields False when another holds it (no wait)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def spool_files(folder: Path) -> list[Path]:
    """The spool files in `folder`, oldest first (their names start with the time)."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(SUFFIX) and n[0] != ".")
    except FileNotFoundError:
        return []
    return [folder / n for n in names]


def remove_abandoned(folder: Path) -> None:
    """Remove files a writer died creating (`.name.new`, never written) or probing."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(".")]
    except FileNotFoundError:
        return
    for name in names:
        if not (name.endswith(".new") or name.startswith(".probe-")):
            continue
        with contextlib.suppress(OSError), (folder / name).open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            if name.startswith(".probe-") and _alive(name.removeprefix(".probe-")):
                continue
            (folder / name).unlink()


def same_file(handle: IO[bytes], path: Path) -> bool:
    """Whether `handle` is still the file at `path` (not removed or replaced meanwhile)."""
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def size_of(path: Path) -> int:
    """The file's size; 0 when it is gone."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def chunks(handle: IO[bytes], limit: int) -> Iterator[list[bytes]]:
    """The file's lines, in lists of at most `limit` bytes (or one longer line)."""
    chunk: list[bytes] = []
    total = 0
    for line in handle:
        chunk.append(line)
        total += len(line)
        if total >= limit:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
