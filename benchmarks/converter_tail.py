"""What the log converter does to the gateway's tail latency: running against stopped.

One `mlgate serve` (the serving benchmark's champion, one worker) answers wrk at
one connection, in alternating runs with its converter process running and
stopped (SIGSTOP; SIGCONT and a pause before the next running run, so it catches
up first). Everything else is as in production: the spool, the state watcher, the
rollout controller and metrics. With nice 19 alone, the runs with the converter
running had the worse p99 (Linux's EEVDF lets a running task keep its CPU for a
protected slice, whatever its nice value); with the 0.1 ms slice the converter asks
for, the two should not differ.

    python benchmarks/converter_tail.py [--rounds 4] [--duration 10]

It reuses benchmarks/serving.py's data (built on first use) and talks to
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import DATA, lua, prepare, servers, started, wrk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per run.")
    args = parser.parse_args()
    prepared = prepare()
    (server,) = [s for s in servers(prepared, ["mlgate-champion"], None, "") if s.workers == 1]
    script = lua(prepared.body, DATA)
    p99: dict[str, list[float]] = {"running": [], "stopped": []}
    with started(server, prepared) as (port, pid):
        (converter,) = _children(pid)
        wrk(port, 1, 3, script)  # warm-up
        for round_ in range(args.rounds):
            modes = ("running", "stopped") if round_ % 2 == 0 else ("stopped", "running")
            for mode in modes:
                os.kill(converter, signal.SIGCONT if mode == "running" else signal.SIGSTOP)
                time.sleep(3)
                point = wrk(port, 1, args.duration, script)
                p99[mode].append(point.p99_ms)
                print(
                    f"round {round_ + 1}, converter {mode}: p99 {point.p99_ms:.3f} ms, "
                    f"{point.rps:,.0f} req/s",
                    file=sys.stderr,
                )
        os.kill(converter, signal.SIGCONT)
    for mode, values in p99.items():
        print(
            f"converter {mode}: p99 median {statistics.median(values):.3f} ms "
            f"(runs: {', '.join(f'{v:.3f}' for v in values)})"
        )


def _children(pid: int) -> list[int]:
    """The processes `pid` started (one worker: the converter alone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


if __name__ == "__main__":
    main()
