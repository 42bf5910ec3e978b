"""The data side on Spark: `mlgate validate` and `mlgate drift`, local engine against Spark.

The reference and current Parquet files of benchmarks/drift.py (20 numeric and 2
categorical columns, five columns shifted by 0.1 standard deviations; made and
cached there) at 1,000,000 and 10,000,000 rows. Each command runs as a fresh
process, timed from start to exit, with the peak of the summed resident memory
of its whole process tree (sampled every 0.2 s: the Python driver, Spark's JVM
and its Python workers, so driver and executors of a local Spark), once per
cell. Spark is `local[2]` with 4 GB of driver memory (`PYSPARK_SUBMIT_ARGS`).
Validation checks the current file against the schema `mlgate schema infer`
writes from the 1M-row reference.

    python benchmarks/spark.py                  # 1M and 10M rows; print and write results
    python benchmarks/spark.py --rows 1000000 --no-write

What the figures say (benchmarks/results/spark.json): both engines give the same
verdicts in every cell. At 10M rows (load 10-15) validation takes 22 s in 2.8 GB
locally and 208 s in 3.1 GB on Spark; drift 88 s in 1.2 GB locally and 462 s in
5.0 GB on Spark, most of it the quantile sketches. At 100M rows (16.6 GB a file;
load 4-6) the local validation is refused before reading (it would hold about
28 GB); Spark validates in 283 s in 3.7 GB. Drift: 423 s in 9.7 GB locally, 1,586 s
in 4.7 GB on Spark. A run past MEMORY_CAP_MB is stopped and reported as such.

    python benchmarks/spark.py --rows 100000000   # one size; other sizes' cells are kept
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _measure  # noqa: E402

from drift import DATA, SHIFTED, prepare  # noqa: E402

RESULTS = HERE / "results" / "spark.json"
SPARK = "--master local[2] --driver-memory 4g pyspark-shell"
TIMEOUT_S = 3600.0
#: A run whose process tree passes this resident memory is stopped and reported as such,
#: before the kernel's out-of-memory killer would pick a victim on this 24 GB machine.
MEMORY_CAP_MB = 18_000


def measure(command: list[str], *, spark: bool) -> dict[str, Any]:
    """Run `command` once: wall time, peak tree memory, exit code and its JSON output."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if spark:
        env["PYSPARK_SUBMIT_ARGS"] = SPARK
        env["PYSPARK_PYTHON"] = sys.executable
    load = os.getloadavg()[0]
    done = _measure.run(
        command,
        env=env,
        cwd=tempfile.gettempdir(),
        timeout=TIMEOUT_S,
        sample_s=0.2,
        cap_mb=MEMORY_CAP_MB,
    )
    found: dict[str, Any] = {
        "wall_s": round(done.wall_s, 2),
        "peak_mb": round(done.tree_peak_mb),
        "exit": done.code,
        "load": round(load, 1),
    }
    if done.capped:
        return found | {"capped": True}
    if done.code == 2 and done.stderr.startswith("error: "):  # refused, as a user would see it
        return found | {"refused": done.stderr.strip()}
    if done.code not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited with {done.code}:\n{done.stderr[-3000:]}")
    return found | {"report": json.loads(done.stdout)}


def _summary(kind: str, report: dict[str, Any]) -> dict[str, Any]:
    if kind == "drift":
        return {
            "flagged": sorted(c["column"] for c in report["columns"] if c["drifted"]),
            "statistics": {c["column"]: c["statistic"] for c in report["columns"]},
        }
    return {"violations": [(v["column"], v["rule"], v["count"]) for v in report["violations"]]}


def run(rows: int, schema: Path) -> list[dict[str, Any]]:
    mlgate = shutil.which("mlgate", path=str(Path(sys.executable).parent)) or "mlgate"
    reference, current = prepare(rows)
    found = []
    for kind in ("validate", "drift"):
        for engine in ("local", "spark"):
            if kind == "validate":
                args = ["validate", str(current), "--schema", str(schema)]
            else:
                args = ["drift", str(reference), str(current)]
            command = [mlgate, *args, "--engine", engine, "--json"]
            print(f"{kind} {engine} {rows:,} rows ...", file=sys.stderr, flush=True)
            result = measure(command, spark=engine == "spark")
            result.update(kind=kind, engine=engine, rows=rows)
            if "report" in result:
                result.update(_summary(kind, result.pop("report")))
            print(f"  {result['wall_s']} s, {result['peak_mb']} MB", file=sys.stderr)
            found.append(result)
    return found


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| command | rows | local: wall, peak memory | Spark local[2]: wall, peak memory |",
        "|---|---:|---:|---:|",
    ]
    cells: dict[tuple[str, int], dict[str, str]] = {}
    for r in results:
        cells.setdefault((r["kind"], r["rows"]), {})[r["engine"]] = (
            f"stopped at {MEMORY_CAP_MB // 1000} GB after {r['wall_s']:.1f} s"
            if r.get("capped")
            else f"refused in {r['wall_s']:.1f} s (see below)"
            if r.get("refused")
            else f"{r['wall_s']:.1f} s, {r['peak_mb']:,} MB"
        )
    for (kind, rows), by in cells.items():
        lines.append(
            f"| `mlgate {kind}` | {rows:,} | {by.get('local', '-')} | {by.get('spark', '-')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    sizes = args.rows or [1_000_000, 10_000_000]
    schema = DATA / "spark-schema.yaml"
    if not schema.exists():
        reference, _ = prepare(1_000_000)
        mlgate = shutil.which("mlgate", path=str(Path(sys.executable).parent)) or "mlgate"
        subprocess.run([mlgate, "schema", "infer", str(reference), "-o", str(schema)], check=True)
    results = [r for rows in sizes for r in run(rows, schema)]
    for kind in ("validate", "drift"):
        for rows in sizes:
            pair = [r for r in results if r["kind"] == kind and r["rows"] == rows]
            key = "flagged" if kind == "drift" else "violations"
            if any(key not in r for r in pair):
                continue  # a run stopped at the memory cap
            same = pair[0][key] == pair[1][key]
            print(f"{kind} {rows:,}: engines agree: {same}", file=sys.stderr)
    print(table(results))
    if not args.no_write:
        # Cells of sizes not run this time are kept from the last results.
        last = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        kept = last.get("results", [])
        results = [r for r in kept if r["rows"] not in sizes] + results
        RESULTS.write_text(
            json.dumps(
                {
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                    "spark": SPARK,
                    "shifted": SHIFTED,
                    "results": results,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
