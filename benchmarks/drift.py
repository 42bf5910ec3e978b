"""Drift detection, whole process: mlgate's CLI against Evidently and a per-column scipy loop.

Two cached Parquet files, reference and current (1,000,000 rows x 20 float64 + 2
string columns; a 10,000,000-row pair with --large), drawn from the same
distributions except a mean shift of 0.1 standard deviations in the five columns
of SHIFTED. Every tool runs as a fresh process on the same pair and is timed from
process start to exit, with its own peak RSS, under a 16 GB address-space limit
and a 10-minute timeout; mlgate and scipy are interleaved (median of 3), Evidently
runs once by default (it takes about 100 s).

    python benchmarks/drift.py                   # 1M rows, all three; print and write results
    python benchmarks/drift.py --large           # and the 10M-row pair (mlgate, scipy, Evidently)
    python benchmarks/drift.py --rows 100000 --no-write   # a quicker look

Evidently 0.7.23 does not import with pandas 3, so it runs in its own venv:

    python3.11 -m venv benchmarks/.venv-evidently
    benchmarks/.venv-evidently/bin/pip install "evidently==0.7.23" "pandas<3" pyarrow

The tools' own defaults decide what counts as drift. mlgate: normalised Wasserstein
distance over 0.05 and Jensen-Shannon distance over 0.1 (large samples). Evidently's
DataDriftPreset: normalised Wasserstein at 0.1 and Jensen-Shannon at 0.1. scipy:
ks_2samp and chi2_contingency p-values, flagged under 0.05 after Benjamini-Hochberg
(the raw p < 0.05 flags are kept too).

What the figures say (benchmarks/results/drift.json; a 2-CPU machine shared with other
agents' test runs, load average 4.4-9 during the runs, so walls are inflated and CPU
times are the steadier figure). At 1M rows mlgate takes 9.7 s wall and 4.0 s of CPU in
237 MB; Evidently 449 s and 179 s of CPU in 2.4 GB: 47x by wall, 44x by CPU. Evidently's
default line (0.1 on normalised Wasserstein) flags 2 of the 5 shifted columns, whose
scores sit on that line (0.096-0.102). The scipy loop finds all five, plus one false
alarm after Benjamini-Hochberg (x07, p = 0.008) and two without. At 10M rows mlgate
peaks at 1.26 GB (a column at a time, two columns in flight), scipy at 7.2 GB, and
Evidently runs out of a 16 GB address space after about 7.5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _measure

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results" / "drift.json"
EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"

#: Bump when the generator changes, so a stale cached file is not reused.
GENERATOR = 1
SEED = 20261127
NUMERIC = [f"x{i:02d}" for i in range(20)]
SHIFTED = ["x00", "x05", "x10", "x15", "x18"]
SHIFT_SD = 0.1
CATEGORIES = {
    "colour": (["red", "green", "blue", "black"], [0.4, 0.3, 0.2, 0.1]),
    "segment": ([f"s{i:02d}" for i in range(12)], [1 / 12] * 12),
}
CHUNK = 1_000_000
RUNS = 3
TIMEOUT_S = 600.0
MEMORY_LIMIT = 16 * 1024**3
MLGATE_PEAK_TARGET_MB = 2048
SPEEDUP_TARGET = 30.0
#: Tools run as installed code does: with bytecode caches, whatever this shell says.
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# --- the data ---------------------------------------------------------------------------


def _column(rng: Any, index: int, rows: int, shifted: bool) -> Any:
    """Column `index`: normal, exponential, uniform or lognormal by index, maybe shifted.

    The shift is SHIFT_SD times the distribution's own standard deviation.
    """
    import numpy as np

    family = index % 4
    scale = 1.0 + index / 4
    if family == 0:
        values, sd = rng.normal(10.0 * index, scale, rows), scale
    elif family == 1:
        values, sd = rng.exponential(scale, rows), scale
    elif family == 2:
        values, sd = rng.uniform(-scale, scale, rows), 2 * scale / np.sqrt(12)
    else:
        sigma = 0.5
        values = rng.lognormal(0.0, sigma, rows) * scale
        sd = scale * float(np.sqrt((np.exp(sigma**2) - 1) * np.exp(sigma**2)))
    if shifted:
        values += SHIFT_SD * sd
    return values


def generate(rows: int, path: Path, *, current: bool) -> None:
    """Write one side, CHUNK rows per row group, so 10M rows never sit in memory at once."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = None
    try:
        for chunk, start in enumerate(range(0, rows, CHUNK)):
            size = min(CHUNK, rows - start)
            rng = np.random.default_rng([SEED, int(current), chunk])
            arrays: dict[str, Any] = {
                name: pa.array(_column(rng, i, size, current and name in SHIFTED))
                for i, name in enumerate(NUMERIC)
            }
            for name, (labels, shares) in CATEGORIES.items():
                codes = rng.choice(len(labels), size=size, p=shares)
                arrays[name] = pa.array(np.asarray(labels, dtype=object)[codes], type=pa.string())
            batch = pa.table(arrays)
            if writer is None:
                writer = pq.ParquetWriter(partial, batch.schema)
            writer.write_table(batch, row_group_size=CHUNK)
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)


def prepare(rows: int) -> tuple[Path, Path]:
    """The cached reference and current files for `rows` rows, made if missing."""
    found = []
    for side in ("reference", "current"):
        path = DATA / f"drift-{rows}-g{GENERATOR}-{side}.parquet"
        if not path.exists():
            print(f"generating {path.name} ...", file=sys.stderr, flush=True)
            generate(rows, path, current=side == "current")
        found.append(path)
    return found[0], found[1]


# --- the tools that run in this script's own process ---------------------------------------


def run_scipy(reference: Path, current: Path) -> dict[str, Any]:
    """pandas reads both files; ks_2samp per numeric column, chi2_contingency per categorical."""
    import numpy as np
    import pandas as pd
    from scipy.stats import chi2_contingency, false_discovery_control, ks_2samp

    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    scores: dict[str, dict[str, Any]] = {}
    for name in ref.columns:
        a, b = ref[name].dropna(), cur[name].dropna()
        if pd.api.types.is_numeric_dtype(a):
            result = ks_2samp(a.to_numpy(), b.to_numpy())
            statistic, p, test = float(result.statistic), float(result.pvalue), "ks_2samp"
        else:
            table = pd.concat([a.value_counts(), b.value_counts()], axis=1).fillna(0)
            statistic, p, _, _ = chi2_contingency(table.to_numpy().T, correction=False)
            test = "chi2_contingency"
        scores[str(name)] = {"test": test, "statistic": float(statistic), "p": float(p)}
    adjusted = false_discovery_control(np.array([s["p"] for s in scores.values()]))
    for s, p_bh in zip(scores.values(), adjusted, strict=True):
        s["p_bh"] = float(p_bh)
    return {
        "flagged": sorted(c for c, s in scores.items() if s["p_bh"] < 0.05),
        "flagged_raw": sorted(c for c, s in scores.items() if s["p"] < 0.05),
        "scores": scores,
    }


def run_evidently(reference: Path, current: Path) -> dict[str, Any]:
    """Evidently's DataDriftPreset with its defaults, the column types given, not guessed."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    numeric = [str(c) for c in ref.columns if pd.api.types.is_numeric_dtype(ref[c])]
    definition = DataDefinition(
        numerical_columns=numeric,
        categorical_columns=[str(c) for c in ref.columns if str(c) not in numeric],
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    scores: dict[str, dict[str, Any]] = {}
    counted = None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            counted = int(metric["value"]["count"])
        elif config["type"].endswith("ValueDrift"):
            method, threshold, value = config["method"], config["threshold"], metric["value"]
            # Evidently's rule: a p-value drifts below its threshold, a distance at or above.
            drifted = value < threshold if "p_value" in method else value >= threshold
            scores[config["column"]] = {
                "method": method,
                "statistic": float(value),
                "threshold": float(threshold),
                "drifted": bool(drifted),
            }
    flagged = sorted(c for c, s in scores.items() if s["drifted"])
    if counted is not None and counted != len(flagged):
        raise SystemExit(f"Evidently counted {counted} drifted columns, its metrics {flagged}")
    return {"flagged": flagged, "scores": scores}


ENGINES: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "scipy": run_scipy,
    "evidently": run_evidently,
}


def _mlgate_findings(stdout: str) -> dict[str, Any]:
    report = json.loads(stdout)
    columns = report["columns"]
    return {
        "flagged": sorted(c["column"] for c in columns if c["drifted"]),
        "scores": {
            c["column"]: {"test": c["test"], "statistic": c["statistic"], "drifted": c["drifted"]}
            for c in columns
        },
    }


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Tool:
    """A command to time and how to read what it flagged from its stdout."""

    name: str
    rows: int
    command: list[str]
    parse: Callable[[str], dict[str, Any]]
    runs: int = RUNS
    walls: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    findings: dict[str, Any] = field(default_factory=dict)
    caps: list[int] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    status: str = "ok"


def memory_cap() -> int:
    """MEMORY_LIMIT, or less when the (shared) machine has less than that to spare."""
    with open("/proc/meminfo", encoding="ascii") as f:
        available = next(int(line.split()[1]) * 1024 for line in f if "MemAvailable" in line)
    return min(MEMORY_LIMIT, available - 2 * 1024**3)


def _limit_memory(cap: int) -> Callable[[], None]:
    def limit() -> None:
        """In the child: an address-space cap, so a runaway tool fails instead of the machine."""
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return limit


def measure(tool: Tool, *, record: bool = True, timeout: float = TIMEOUT_S) -> None:
    """Run the tool once as a fresh process: wall time, its own peak RSS, what it flagged."""
    cap = memory_cap()
    tool.caps.append(cap)
    tool.loads.append(os.getloadavg()[0])  # the machine is shared: say how busy it was
    done = _measure.run(
        tool.command,
        env=ENVIRONMENT,
        cwd=tempfile.gettempdir(),  # no mlgate.yaml there to change the defaults
        timeout=timeout,
        preexec_fn=_limit_memory(cap),
    )
    if done.code != 0:
        errors = done.stderr
        if done.timed_out:
            tool.status = f"did not finish in {timeout:.0f} s"
        elif "MemoryError" in errors or "Unable to allocate" in errors or "bad_alloc" in errors:
            tool.status = f"out of memory (address space capped at {cap / 1024**3:.1f} GB)"
        else:
            raise SystemExit(f"{tool.name} exited with {done.code}:\n{errors[-3000:]}")
        tool.walls.append(done.wall_s)
        tool.peaks.append(done.peak_mb)
        return
    tool.findings = tool.parse(done.stdout)
    if record:
        tool.walls.append(done.wall_s)
        tool.cpus.append(done.cpu_s)
        tool.peaks.append(done.peak_mb)


def tools(reference: Path, current: Path, rows: int, *, runs: int, evidently: bool) -> list[Tool]:
    """Everything to time at `rows` rows, mlgate first."""
    python = sys.executable
    script = str(Path(__file__).resolve())
    mlgate = shutil.which("mlgate", path=str(Path(python).parent)) or "mlgate"
    here = [str(reference), str(current)]
    found = [
        Tool(
            "mlgate drift --json",
            rows,
            [mlgate, "drift", *here, "--json"],
            _mlgate_findings,
            runs=runs,
        ),
        Tool(
            "scipy ks_2samp + chi2_contingency",
            rows,
            [python, script, "--engine", "scipy", *here],
            json.loads,
            runs=runs,
        ),
    ]
    if evidently:
        if not EVIDENTLY_PYTHON.exists():
            raise SystemExit(f"no {EVIDENTLY_PYTHON}; see this script's docstring to make it")
        found.append(
            Tool(
                "Evidently 0.7.23 DataDriftPreset",
                rows,
                [str(EVIDENTLY_PYTHON), script, "--engine", "evidently", *here],
                json.loads,
                runs=1,
            )
        )
    return found


def warm(paths: list[Path], measured: list[Tool]) -> None:
    """Put the files in the page cache and every interpreter's bytecode on disk."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(1 << 24):
                pass
    for tool in measured:
        if tool.command[1] == "drift":
            command = [tool.command[0], "--help"]
        else:
            module = "evidently.presets" if "evidently" in tool.command else "scipy.stats"
            command = [tool.command[0], "-c", f"import pandas, {module}"]
        subprocess.run(command, capture_output=True, env=ENVIRONMENT, check=True)


def run_all(measured: list[Tool]) -> None:
    """Interleaved runs, so a noisy moment hits every tool alike; a failed tool stops."""
    for round_ in range(max(t.runs for t in measured)):
        for tool in measured:
            if round_ < tool.runs and tool.status == "ok":
                measure(tool)


def _cell(tool: Tool) -> tuple[str, str]:
    """Median wall time; the highest peak of the runs, since a memory bound is about the worst."""
    if tool.status != "ok":
        return tool.status, "-"
    return f"{statistics.median(tool.walls):.2f}", f"{max(tool.peaks):.0f}"


def table(measured: list[Tool]) -> str:
    """The figures as a Markdown table, ratios against mlgate at the same row count."""
    lines = [
        "| tool | rows | wall s | peak RSS MB | columns flagged | ratio vs mlgate | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    base = {t.rows: statistics.median(t.walls) for t in measured if t.name.startswith("mlgate")}
    for tool in measured:
        wall, peak = _cell(tool)
        if tool.status != "ok":
            ratio = f"> {max(tool.walls) / base[tool.rows]:.1f}x" if tool.walls else "-"
            flagged = "-"
            peak = f"{max(tool.peaks):.0f} when stopped" if tool.peaks else "-"
            cpu = "-"
        else:
            ratio = f"{statistics.median(tool.walls) / base[tool.rows]:.1f}x"
            flagged = _flagged(tool)
            cpu = f"{statistics.median(tool.cpus):.1f}"
        lines.append(
            f"| {tool.name} | {tool.rows:,} | {wall} | {peak} | {flagged} | {ratio} | {cpu} |"
        )
    return "\n".join(lines)


def _flagged(tool: Tool) -> str:
    flagged = tool.findings["flagged"]
    text = f"{len(flagged)}: {' '.join(flagged)}" if flagged else "0"
    extra = sorted(set(tool.findings.get("flagged_raw", flagged)) - set(flagged))
    return text + (f" (raw p < 0.05 adds {' '.join(extra)})" if extra else "")


def versions() -> dict[str, str]:
    """The versions of what was measured (Evidently's from its own venv)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ["mlgate", "numpy", "pandas", "pyarrow", "scipy"]:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    if EVIDENTLY_PYTHON.exists():
        probe = (
            "import json; from importlib.metadata import version as v; "
            "print(json.dumps({n: v(n) for n in ['evidently', 'pandas', 'numpy', 'scipy']}))"
        )
        other = subprocess.run(
            [str(EVIDENTLY_PYTHON), "-c", probe], capture_output=True, text=True, check=True
        )
        found |= {f"evidently venv: {k}": v for k, v in json.loads(other.stdout).items()}
    return found


def _record(tool: Tool, base: dict[int, float]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "tool": tool.name,
        "rows": tool.rows,
        "command": " ".join(
            Path(a).name if i == 0 or a.endswith(".py") else a
            for i, a in enumerate(tool.command)
            if not a.endswith(".parquet")
        ),
        "status": tool.status,
        "address_space_caps_gb": [round(c / 1024**3, 1) for c in tool.caps],
        "load_averages_at_start": [round(x, 2) for x in tool.loads],
        "walls_s": [round(w, 3) for w in tool.walls],
        "peaks_rss_mb": [round(p) for p in tool.peaks],
    }
    if tool.status == "ok":
        wall = statistics.median(tool.walls)
        entry |= {
            "wall_s": round(wall, 3),
            "peak_rss_mb": round(max(tool.peaks)),
            "cpu_s": round(statistics.median(tool.cpus), 3),
            "ratio_vs_mlgate": round(wall / base[tool.rows], 2),
            "flagged": tool.findings["flagged"],
            "found_every_shift_and_nothing_else": tool.findings["flagged"] == sorted(SHIFTED),
            "scores": tool.findings["scores"],
        }
        if "flagged_raw" in tool.findings:
            entry["flagged_raw_p_under_0.05"] = tool.findings["flagged_raw"]
    return entry


def benchmark(args: argparse.Namespace) -> None:
    """Measure every tool, check mlgate found the shifts, print the table, save the figures."""
    measured: list[Tool] = []
    load = [os.getloadavg()[0]]
    sizes = [args.rows] + ([args.large_rows] if args.large else [])
    for rows in sizes:
        reference, current = prepare(rows)
        group = tools(reference, current, rows, runs=args.runs, evidently=not args.no_evidently)
        for tool in group:
            if rows != args.rows and tool.name.startswith(("scipy", "Evidently")):
                tool.runs = 1
        warm([reference, current], group)
        print(f"measuring {rows:,} rows ...", file=sys.stderr, flush=True)
        run_all(group)
        measured += group
    load.append(os.getloadavg()[0])
    for tool in measured:
        if tool.name.startswith("mlgate") and tool.findings["flagged"] != sorted(SHIFTED):
            raise SystemExit(f"mlgate flagged {tool.findings['flagged']}; shifted: {SHIFTED}")
    base = {t.rows: statistics.median(t.walls) for t in measured if t.name.startswith("mlgate")}
    print(
        f"{len(NUMERIC)} float64 + {len(CATEGORIES)} string columns; mean shift of {SHIFT_SD} sd "
        f"in {' '.join(SHIFTED)}; mlgate and scipy median of {args.runs} interleaved runs "
        "(one run at 10M rows for scipy), Evidently one run:"
    )
    print(table(measured))
    print(f"(load average {load[0]:.1f} before, {load[1]:.1f} after, on {os.cpu_count()} CPUs)")
    for tool in measured:
        if tool.name.startswith("Evidently") and tool.status == "ok":
            shifted = {c: round(tool.findings["scores"][c]["statistic"], 4) for c in SHIFTED}
            print(f"Evidently's scores on the shifted columns at {tool.rows:,} rows: {shifted}")
    targets: dict[str, Any] = {}
    for tool in measured:
        if tool.name.startswith("Evidently") and tool.status == "ok":
            mlgate = next(t for t in measured if t.rows == tool.rows)
            targets[f"speedup_vs_evidently_{tool.rows}"] = round(
                statistics.median(tool.walls) / base[tool.rows], 1
            )
            targets[f"cpu_time_ratio_vs_evidently_{tool.rows}"] = round(
                statistics.median(tool.cpus) / statistics.median(mlgate.cpus), 1
            )
        if tool.name.startswith("mlgate") and tool.rows >= 10_000_000:
            targets[f"mlgate_peak_rss_mb_{tool.rows}"] = round(max(tool.peaks))
    targets |= {"speedup_target": SPEEDUP_TARGET, "peak_target_mb": MLGATE_PEAK_TARGET_MB}
    print(f"targets: {targets}")
    if args.no_write:
        return
    results = {
        "rows": sizes,
        "columns": {"float64": len(NUMERIC), "string": len(CATEGORIES)},
        "shifted": SHIFTED,
        "shift_sd": SHIFT_SD,
        "runs": args.runs,
        "timeout_s": TIMEOUT_S,
        "address_space_limit_gb": MEMORY_LIMIT / 1024**3,
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(x, 2) for x in load],
        "versions": versions(),
        "targets": targets,
        "tools": [_record(t, base) for t in measured],
        "table": table(measured),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(HERE.parent)}")


def main(argv: list[str] | None = None) -> None:
    """Measure (the default), or run one engine and print its findings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), help="run one engine and exit")
    parser.add_argument("paths", nargs="*", type=Path, help="with --engine: REFERENCE CURRENT")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--large", action="store_true", help="also the 10,000,000-row pair")
    parser.add_argument("--large-rows", type=int, default=10_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--no-evidently", action="store_true", help="leave Evidently out")
    parser.add_argument("--no-write", action="store_true", help="do not write the results")
    args = parser.parse_args(argv)
    if args.engine:
        if len(args.paths) != 2:
            parser.error("--engine needs REFERENCE and CURRENT")
        json.dump(ENGINES[args.engine](*args.paths), sys.stdout)
        return
    benchmark(args)


if __name__ == "__main__":
    main()
