"""Memory and start-up, side by side: the FastAPI + ONNX Runtime floor and `mlgate serve`.

The same ONNX model as benchmarks/serving.py (its `prepare()`: a RandomForest trained
through mlgate's road and registered in a local MLflow registry on SQLite) is served by
the floor app and by `mlgate serve` (champion only, and a 10% canary), with 1 and 2
workers. For each start the benchmark records the time from launch to the first 200
from the readiness route (`/v2/health/ready` for mlgate, `/ping` for the floor), then,
after a few answered requests, the memory of the whole process tree:

- RSS, summed over every process (shared pages count once per process, as the
  kernel's per-process figure and most dashboards count them);
- PSS from /proc/<pid>/smaps_rollup (shared pages split between the processes that
  map them), the fairer sum when workers share pages with their parent.

    python benchmarks/footprint.py                     # measure, print, write results
    python benchmarks/footprint.py --rounds 1 --no-write
    python benchmarks/footprint.py --compare /path/to/other/src --label before

Results go to benchmarks/results/footprint.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _measure  # noqa: E402

import serving  # noqa: E402  (the sibling benchmark: its model, servers and helpers)

RESULTS = HERE / "results" / "footprint.json"
#: A few answers before reading memory: the first requests allocate what serving needs.
WARM_REQUESTS = 20


@dataclass
class Start:
    """One launch of one server: time to ready and memory once warm."""

    ready_s: float
    #: CPU seconds the process tree used until ready: what start-up costs, read apart
    #: from how busy the machine was (wall time stretches on a shared machine).
    ready_cpu_s: float
    rss_mb: float
    pss_mb: float | None
    processes: int
    #: Each process's RSS in MB, the launched one first: where the memory is.
    each_mb: list[float] = field(default_factory=list)


@dataclass
class Measured:
    """Every launch of one server configuration."""

    server: serving.Server
    starts: list[Start] = field(default_factory=list)


def tree_pss_mb(root: int) -> float | None:
    """Proportional set size of `root` and its descendants, in MB; None without smaps_rollup."""
    total_kb = 0
    for pid in _measure.tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except FileNotFoundError:
            continue
        except PermissionError:
            return None
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def ready_path(server: serving.Server) -> str:
    return "/v2/health/ready" if server.name.startswith("mlgate") else server.ready_path


def launch(server: serving.Server, prepared: serving.Prepared) -> Start:
    """Start the server, time it to ready, warm it, read its memory, stop it."""
    port = serving.free_port()
    with tempfile.TemporaryDirectory(prefix="footprint-") as folder:
        scratch = Path(folder)
        began = time.monotonic()
        with serving.running(server, port, scratch) as process:
            path = ready_path(server)
            while True:
                if process.poll() is not None:
                    log = (scratch / "server.log").read_text(errors="replace")[-3000:]
                    raise SystemExit(f"{server.key} exited with {process.returncode}:\n{log}")
                with contextlib.suppress(OSError):
                    if serving.request(port, path)[0] == 200:
                        break
                if time.monotonic() - began > 180:
                    raise SystemExit(f"{server.key} did not answer {path} within 180 s")
                time.sleep(0.02)
            ready_s = time.monotonic() - began
            ready_cpu_s = _measure.tree_cpu_s(process.pid)
            for _ in range(WARM_REQUESTS):
                status, body = serving.request(port, "/invocations", prepared.body)
                if status != 200 or serving.answered(body) != prepared.expected:
                    raise SystemExit(f"{server.key} answered {status}: {body[:300]!r}")
            time.sleep(0.5)  # let every worker settle (each has answered or idled)
            tree = _measure.tree(process.pid)
            return Start(
                ready_s=ready_s,
                ready_cpu_s=ready_cpu_s,
                rss_mb=sum(p.rss_mb for p in tree.values()),
                pss_mb=tree_pss_mb(process.pid),
                processes=len(tree),
                each_mb=[round(tree[pid].rss_mb, 1) for pid in sorted(tree)],
            )


def summary(measured: Measured) -> dict[str, Any]:
    starts = measured.starts
    pss = [s.pss_mb for s in starts if s.pss_mb is not None]
    return {
        "server": measured.server.name,
        "workers": measured.server.workers,
        "processes": starts[-1].processes,
        "ready_s": round(statistics.median(s.ready_s for s in starts), 2),
        "ready_s_all": [round(s.ready_s, 2) for s in starts],
        "ready_cpu_s": round(statistics.median(s.ready_cpu_s for s in starts), 2),
        "rss_mb": round(statistics.median(s.rss_mb for s in starts), 1),
        "pss_mb": round(statistics.median(pss), 1) if pss else None,
        "each_rss_mb_last": starts[-1].each_mb,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'server':<44} {'workers':>7} {'procs':>5} {'ready s':>8} {'CPU s':>6} "
        f"{'RSS MB':>8} {'PSS MB':>8}",
    ]
    for row in rows:
        pss = "-" if row["pss_mb"] is None else f"{row['pss_mb']:.0f}"
        lines.append(
            f"{row['server']:<44} {row['workers']:>7} {row['processes']:>5} "
            f"{row['ready_s']:>8.2f} {row['ready_cpu_s']:>6.2f} {row['rss_mb']:>8.0f} {pss:>8}"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """mlgate against the floor per worker count: RSS and PSS ratios, time to ready."""
    found: dict[str, Any] = {}
    for workers in (1, 2):
        floor = next(
            (r for r in rows if r["server"].startswith("floor") and r["workers"] == workers),
            None,
        )
        for row in rows:
            if not row["server"].startswith("mlgate") or row["workers"] != workers:
                continue
            entry: dict[str, Any] = {
                "ready_s": row["ready_s"],
                "ready_within_2s": row["ready_s"] <= 2,
            }
            if floor is not None:
                entry["rss_ratio"] = round(row["rss_mb"] / floor["rss_mb"], 2)
                entry["rss_within_2x"] = row["rss_mb"] <= 2 * floor["rss_mb"]
                if row["pss_mb"] and floor["pss_mb"]:
                    entry["pss_ratio"] = round(row["pss_mb"] / floor["pss_mb"], 2)
            found[f"{row['server']} ({workers}w)"] = entry
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="launches per server (median)")
    parser.add_argument(
        "--only",
        nargs="*",
        help="servers whose name starts so (floor, mlgate-champion, mlgate-canary)",
    )
    parser.add_argument("--compare", type=Path, help="another mlgate source tree to run too")
    parser.add_argument("--label", default="before", help="the name of --compare's runs")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    prepared = serving.prepare()
    only = args.only or ["floor", "mlgate-champion", "mlgate-canary"]
    chosen = serving.servers(prepared, only, args.compare, args.label)
    measured = [Measured(server) for server in chosen]
    for round_ in range(args.rounds):
        order = measured if round_ % 2 == 0 else list(reversed(measured))
        for entry in order:
            print(f"round {round_ + 1}: {entry.server.key} ...", file=sys.stderr)
            entry.starts.append(launch(entry.server, prepared))
    rows = [summary(m) for m in measured]
    print(table(rows))
    result = {
        "what": "time to ready and memory of the process tree, warm, per server",
        "rounds": args.rounds,
        "versions": prepared.versions,
        "rows": rows,
        "targets": targets(rows),
    }
    print(json.dumps(result["targets"], indent=2))
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
