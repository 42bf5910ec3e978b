"""Which process this is, and whether the process another record names is certainly gone.

Leases and registrations name the process that holds them: host, process id and
the process's start time. A process SIGKILLed while holding a lease cannot give
it up; on the same host, the next process can tell it is gone (its id runs no
more, or now belongs to a process started at another time) and need not wait
the lease out. A process on another host is never judged gone: nothing here can
tell whether it still runs.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Owner", "holder", "started"]


@dataclass(frozen=True)
class Owner:
    """A process, named by its host, id and start time (clock ticks since boot)."""

    host: str
    pid: int
    started: str

    @classmethod
    def this(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, started(pid) or "")

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner a `holder` string names; None for one made otherwise."""
        parts = text.split(":")
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])

    def gone(self) -> bool:
        """Whether this process certainly runs no more (only ever True on its own host)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # another user's process holds the id now: alive, but is it the same one?
        found = _stat(self.pid)
        if found is None:
            return False  # no /proc to ask: alive as far as can be told
        state, began = found
        # Killed but not yet reaped by its parent; or the id reused by a later process.
        return state in ("Z", "X") or bool(self.started and began != self.started)


def holder() -> str:
    """A new holder name for a lease: this process, and a part of its own (threads and
    objects of one process hold leases apart)."""
    me = Owner.this()
    return f"{me.host}:{me.pid}:{me.started}:{uuid.uuid4().hex[:8]}"


def started(pid: int) -> str | None:
    """When process `pid` started, in clock ticks since boot (Linux); None elsewhere."""
    found = _stat(pid)
    return found[1] if found else None


def _stat(pid: int) -> tuple[str, str] | None:
    """Process `pid`'s state letter and start time, from /proc (Linux); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces: fields count from after it
    # (field 3, the state, first; field 22, the start time, twentieth).
    fields = stat.rpartition(")")[2].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None
