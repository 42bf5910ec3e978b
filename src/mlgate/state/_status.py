"""The converter's status file: what it did per kind of log, and its last error.

The gateway's health checks and metrics read it (`read_status`). It has a fixed
size and is overwritten in place, so the converter can still say it is failing
when the disk is full.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["ERROR_CHARS", "STATUS", "StatusFile", "fresh", "read_status"]

log = logging.getLogger(__name__)

#: The converter's status file, in the spool folder.
STATUS = "converter.json"
#: Its fixed size: it is overwritten in place, so it can be updated on a full disk.
_STATUS_BYTES = 8192
#: Most characters of an error kept in the status.
ERROR_CHARS = 500


def fresh() -> dict[str, Any]:
    """One kind's figures before its first pass."""
    return {
        "rows": 0,
        "segments": 0,
        "failures": 0,
        "quarantined": 0,
        "quarantined_records": 0,
        "pending_files": 0,
        "pending_bytes": 0,
        "last_error": None,
        "last_error_at": None,
        "failing_since": None,
    }


class StatusFile:
    """The status file under `spool_root`, opened at the first save and kept open."""

    def __init__(self, spool_root: Path) -> None:
        self.path = spool_root / STATUS
        self._fd: int | None = None
        self._failed = False

    def save(self, kinds: dict[str, dict[str, Any]]) -> None:
        """Overwrite the file in place (it needs no new space on a full disk)."""
        document = {"pid": os.getpid(), "updated": time.time(), "kinds": kinds}
        data = json.dumps(document).encode()[: _STATUS_BYTES - 1]
        try:
            if self._fd is None:
                self._fd = _opened(self.path)
            os.pwrite(self._fd, data.ljust(_STATUS_BYTES, b" "), 0)
        except OSError as e:
            if not self._failed:  # once, not every pass of a full disk
                log.warning("cannot write the converter's status: %s", e)
            self._failed = True
        else:
            self._failed = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_status(spool_root: str | Path) -> dict[str, Any] | None:
    """The converter's last status for this spool, or None when there is none (yet)."""
    path = Path(spool_root) / STATUS
    for _attempt in range(3):  # a read may meet a write half done: read again
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            found = json.loads(data.decode().strip() or "null")
        except ValueError:
            continue
        return found if isinstance(found, dict) else None
    return None


def _opened(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if os.fstat(fd).st_size < _STATUS_BYTES:
            os.pwrite(fd, b" " * _STATUS_BYTES, 0)  # allocated once, while there is room
    except OSError:
        os.close(fd)
        raise
    return fd
