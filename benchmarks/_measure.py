"""How the benchmarks measure a process: wall and CPU time, its own peak memory, and
the resident memory of its whole process tree (read from Linux's /proc: psutil is
not one of mlgate's dependencies).

- `run`: one command as a fresh process, timed from start to exit, its output kept;
  with `sample_s`, the peak of its tree's summed memory too, stopped past `cap_mb`.
- `tree`, `tree_rss_mb`, `tree_cpu_s`: a running process and its descendants now.
- `stopwatch`: wall and CPU time of the child processes (a pool) a block waits for.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Process:
    """One process as /proc/<pid>/stat has it now."""

    parent: int
    rss_mb: float
    #: User + system seconds of every thread (not of the children it waited for).
    cpu_s: float


def tree(root: int) -> dict[int, Process]:
    """`root` and every process descended from it, by pid."""
    every: dict[int, Process] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
            every[int(entry.name)] = Process(
                parent=int(fields[1]),
                rss_mb=int(fields[21]) * _PAGE / 1024**2,
                cpu_s=(int(fields[11]) + int(fields[12])) / _TICK,
            )
    children: dict[int, list[int]] = {}
    for pid, process in every.items():
        children.setdefault(process.parent, []).append(pid)
    found: dict[int, Process] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in every:
            found[pid] = every[pid]
        stack.extend(children.get(pid, []))
    return found


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and every descendant, in MB (shared pages count per process)."""
    return sum(p.rss_mb for p in tree(root).values())


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system, every thread) used so far by `root` and its descendants."""
    return sum(p.cpu_s for p in tree(root).values())


@dataclass(frozen=True)
class Run:
    """One process measured from its start to its exit."""

    code: int
    wall_s: float
    #: User + system seconds of the process and of the children it waited for.
    cpu_s: float
    #: Its own peak resident memory (the largest of it and the children it waited for).
    peak_mb: float
    #: The peak of its whole tree's summed resident memory; 0 unless sampled.
    tree_peak_mb: float
    stdout: str
    #: "" when stderr was left to the terminal.
    stderr: str
    #: Stopped for passing `timeout`, or `cap_mb` of tree memory.
    timed_out: bool = False
    capped: bool = False


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    preexec_fn: Callable[[], None] | None = None,
    keep_stderr: bool = True,
    sample_s: float | None = None,
    cap_mb: float | None = None,
) -> Run:
    """Run `command` once as a fresh process and measure it; its stdout (and stderr
    unless not `keep_stderr`) kept. Killed past `timeout` seconds, or, sampling its
    tree's memory every `sample_s` seconds, past `cap_mb`."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=stdout,
            stderr=stderr if keep_stderr else None,
            env=env,
            cwd=cwd,
            preexec_fn=preexec_fn,
        )
        done, timed_out, capped = threading.Event(), threading.Event(), threading.Event()
        peak = 0.0

        def expire() -> None:
            timed_out.set()
            process.kill()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_mb(process.pid))
                if cap_mb is not None and peak > cap_mb and not capped.is_set():
                    capped.set()
                    process.kill()
                done.wait(sample_s)

        timer = threading.Timer(timeout, expire) if timeout is not None else None
        sampler = threading.Thread(target=sample, daemon=True) if sample_s else None
        for thread in (timer, sampler):
            if thread is not None:
                thread.start()
        # wait4 gives this child's own resource use; RUSAGE_CHILDREN would be the
        # maximum over every child so far.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        if timer is not None:
            timer.cancel()
        if sampler is not None:
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        text, errors = stdout.read(), stderr.read()
    own = usage.ru_maxrss / 1024  # KiB on Linux, bytes on macOS
    return Run(
        code=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=own / 1024 if sys.platform == "darwin" else own,
        tree_peak_mb=peak,
        stdout=text,
        stderr=errors,
        timed_out=timed_out.is_set(),
        capped=capped.is_set(),
    )


@dataclass
class Stopwatch:
    """Wall seconds, and CPU seconds of the child processes waited for, over a block."""

    wall_s: float = 0.0
    cpu_s: float = 0.0


def _children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


@contextlib.contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """A `Stopwatch` filled in when the block ends (a process pool's workers are
    waited for when the pool closes)."""
    clock = Stopwatch()
    start, before = time.perf_counter(), _children_cpu_s()
    yield clock
    clock.wall_s = time.perf_counter() - start
    clock.cpu_s = _children_cpu_s() - before
