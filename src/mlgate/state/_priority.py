"""The converter's CPU priority: the lowest, and quick to hand the CPU over.

Nice 19 is not enough on Linux 6.6 and later (EEVDF): a running task keeps
its CPU for a protected slice (about 3 ms by default) before a task that
wakes up gets it, whatever their nice values. The converter's bursts (tens of
milliseconds a second under load) then delay the wakeups of the workers and of
their clients, which showed in the gateway's tail latency. Since Linux 6.12 a
task may ask for a shorter slice (`sched_attr.sched_runtime`): the converter
asks for the shortest, 0.1 ms, on each of its threads. Where that cannot be
done (another OS, an older kernel or architecture, a sandbox that refuses the
call) it keeps nice 19 alone.
"""

from __future__ import annotations

import contextlib
import os
import platform
import struct
from collections.abc import Callable

__all__ = ["Background"]

#: sched_setattr's number, by architecture.
_SYSCALL = {"x86_64": 314, "aarch64": 274}
#: The shortest slice Linux grants, in nanoseconds.
_SLICE_NS = 100_000
_NICE = 19


class Background:
    """Nice 19 and a 0.1 ms slice, for this process's threads; `cover` takes the ones
    started since (a new thread gets the default slice)."""

    def __init__(self) -> None:
        with contextlib.suppress(OSError):
            os.nice(_NICE)
        self._done: set[int] = set()
        self._call = _setattr()

    def cover(self) -> None:
        if self._call is None:
            return
        try:
            threads = {int(t) for t in os.listdir("/proc/self/task")}
        except OSError:
            return
        for tid in threads - self._done:
            if not self._call(tid):
                self._call = None  # refused: nice 19 stands, and nothing is tried again
                return
        self._done = threads


def _setattr() -> Callable[[int], bool] | None:
    """A function setting a thread's nice and slice (True when done), or None where
    the call does not exist."""
    number = _SYSCALL.get(platform.machine())
    if number is None or not os.path.isdir("/proc/self/task"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    # struct sched_attr (SCHED_ATTR_SIZE_VER1): size, policy (SCHED_OTHER), flags,
    # nice, priority, runtime (the slice), deadline, period, util_min, util_max.
    attr = ctypes.create_string_buffer(
        struct.pack("IIQiIQQQII", 56, 0, 0, _NICE, 0, _SLICE_NS, 0, 0, 0, 0)
    )

    def call(tid: int) -> bool:
        return int(libc.syscall(number, tid, attr, 0)) == 0

    return call
