"""Data validation, whole process: mlgate's CLI against plain pandas/numpy and pandera.

One cached Parquet file (1,000,000 rows x 20 float64 + 2 string columns) carries a
known set of planted violations; every engine runs as a fresh process, must find
exactly those, and is timed from process start to exit (median of 3, after one
unmeasured warm-up so every engine reads the file from the page cache).

    python benchmarks/validation.py                      # measure, print, write results
    python benchmarks/validation.py --rows 100000        # a quicker, smaller run
    python benchmarks/validation.py --engine plain DATA SCHEMA   # one engine's findings
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import _measure

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results" / "validation.json"

#: Bump when the generator changes, so a stale cached file is not reused.
GENERATOR = 1
SEED = 20261126
NUMERIC = [f"x{i:02d}" for i in range(20)]
LOW, HIGH = 0.0, 100.0
CATEGORIES = {
    "colour": ["red", "green", "blue", "black"],
    "segment": [f"s{i:02d}" for i in range(12)],
}
UNKNOWN = {"colour": ("purple", 41), "segment": ("s99", 7)}
BELOW = {"x00": 1, "x01": 5, "x02": 17, "x03": 100, "x04": 1000}
ABOVE = {"x03": 2, "x04": 9, "x05": 33, "x06": 250, "x07": 4}
#: Share of missing values in every column, the limit, and the one column far past it.
MISSING, MISSING_LIMIT = 0.005, 0.01
EXCESS_MISSING = ("x19", 0.08)
DUPLICATES = 1500
RUNS = 3
#: Engines run as installed code does: with bytecode caches (the warm-up writes them),
#: whatever this shell says.
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class Finding(NamedTuple):
    """One broken rule as every engine must report it."""

    column: str | None
    rule: str
    count: int


def expected_findings(rows: int) -> set[Finding]:
    """The violations planted in a file of `rows` rows."""
    found = {Finding(c, "below_min", n) for c, n in BELOW.items()}
    found |= {Finding(c, "above_max", n) for c, n in ABOVE.items()}
    found |= {Finding(c, "unknown_category", n) for c, (_, n) in UNKNOWN.items()}
    name, rate = EXCESS_MISSING
    found.add(Finding(name, "missing_rate", round(rate * rows)))
    found.add(Finding(None, "duplicates", DUPLICATES))
    return found


# --- the data ---------------------------------------------------------------------------


def generate(rows: int, path: Path) -> None:
    """Write the Parquet file: clean uniform data, then each violation on its own rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    order = rng.permutation(rows)
    taken = 0

    def reserve(count: int) -> Any:
        nonlocal taken
        chosen = order[taken : taken + count]
        taken += count
        return chosen

    numbers = {c: rng.uniform(LOW, HIGH, rows) for c in NUMERIC}
    for column, count in BELOW.items():
        numbers[column][reserve(count)] = rng.uniform(LOW - 50, LOW - 0.001, count)
    for column, count in ABOVE.items():
        numbers[column][reserve(count)] = rng.uniform(HIGH + 0.001, HIGH + 50, count)
    labels: dict[str, Any] = {}
    for column, allowed in CATEGORIES.items():
        labels[column] = np.array(allowed, dtype=object)[rng.integers(0, len(allowed), rows)]
        value, count = UNKNOWN[column]
        labels[column][reserve(count)] = value
    # Copies go over rows no other plant touched, so each adds exactly one duplicate and
    # changes no other count; missing values then go only where no plant sits.
    sources, copies = reserve(DUPLICATES), reserve(DUPLICATES)
    pool = order[taken:]
    excess, rate = EXCESS_MISSING
    for column in [*NUMERIC, "segment"]:
        share = rate if column == excess else MISSING
        holes = rng.choice(pool, round(share * rows), replace=False)
        if column in numbers:
            numbers[column][holes] = np.nan
        else:
            labels[column][holes] = None
    for values in [*numbers.values(), *labels.values()]:
        values[copies] = values[sources]
    arrays = {c: pa.array(v, from_pandas=True) for c, v in numbers.items()}
    arrays |= {c: pa.array(v, type=pa.string()) for c, v in labels.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    pq.write_table(pa.table(arrays), partial)
    partial.replace(path)


def schema_yaml() -> str:
    """The rules, in mlgate's schema format (the other engines read the same file)."""
    import yaml

    columns: dict[str, Any] = {
        c: {"dtype": "float", "min": LOW, "max": HIGH, "max_missing_rate": MISSING_LIMIT}
        for c in NUMERIC
    }
    for column, allowed in CATEGORIES.items():
        columns[column] = {
            "dtype": "string",
            "categories": allowed,
            "max_missing_rate": MISSING_LIMIT,
        }
    body = {"columns": columns, "_global": {"max_duplicates": 0}}
    return str(yaml.safe_dump(body, sort_keys=False))


def prepare(rows: int) -> tuple[Path, Path]:
    """The cached data file and schema for `rows` rows, made if missing."""
    data = DATA / f"validation-{rows}-g{GENERATOR}.parquet"
    schema = DATA / f"validation-{rows}-g{GENERATOR}.schema.yaml"
    if not data.exists():
        print(f"generating {data.name} ...", file=sys.stderr)
        generate(rows, data)
    schema.write_text(schema_yaml(), encoding="utf-8")
    return data, schema


# --- the engines, each run in its own process --------------------------------------------


def _rules(schema: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    import yaml

    raw = yaml.safe_load(schema.read_text(encoding="utf-8"))
    return raw["columns"], raw.get("_global", {})


def _dataset_findings(frame: Any, schema: Path) -> list[Finding]:
    """Missing rates and duplicate rows, with pandas and numpy."""
    import numpy as np
    import pandas as pd

    columns, table = _rules(schema)
    rows, found = len(frame), []
    missing = frame[list(columns)].isna().sum()
    for name, rules in columns.items():
        if int(missing[name]) > rules.get("max_missing_rate", 1.0) * rows:
            found.append(Finding(name, "missing_rate", int(missing[name])))
    # Hash each row, then settle only rows whose hash repeats exactly, so a 64-bit
    # collision cannot pass for a duplicate.
    hashes = pd.util.hash_pandas_object(frame, index=False)
    candidates = np.flatnonzero(hashes.duplicated(keep=False).to_numpy())
    duplicates = int(frame.iloc[candidates].duplicated().sum())
    if duplicates > table.get("max_duplicates", rows):
        found.append(Finding(None, "duplicates", duplicates))
    return found


def run_plain(data: Path, schema: Path) -> list[Finding]:
    """Vectorised pandas/numpy checks of every rule: the baseline."""
    import numpy as np
    import pandas as pd

    columns, _ = _rules(schema)
    frame = pd.read_parquet(data)
    found: list[Finding] = []
    for name, rules in columns.items():
        series = frame[name]
        if "min" in rules:  # NaN compares False, so missing values never count
            below = int(np.count_nonzero(series.to_numpy() < rules["min"]))
            if below:
                found.append(Finding(name, "below_min", below))
        if "max" in rules:
            above = int(np.count_nonzero(series.to_numpy() > rules["max"]))
            if above:
                found.append(Finding(name, "above_max", above))
        if "categories" in rules:
            unknown = int((series.notna() & ~series.isin(rules["categories"])).sum())
            if unknown:
                found.append(Finding(name, "unknown_category", unknown))
    return found + _dataset_findings(frame, schema)


def run_pandera(data: Path, schema: Path) -> list[Finding]:
    """pandera's pandas backend, lazy, for row rules; pandas for the dataset rules."""
    import pandas as pd
    import pandera.pandas as pa

    columns, _ = _rules(schema)
    frame = pd.read_parquet(data)
    plan: dict[str, list[tuple[str, Any]]] = {}
    for name, rules in columns.items():
        checks = plan.setdefault(name, [])
        if "min" in rules:
            checks.append(("below_min", pa.Check.ge(rules["min"])))
        if "max" in rules:
            checks.append(("above_max", pa.Check.le(rules["max"])))
        if "categories" in rules:
            checks.append(("unknown_category", pa.Check.isin(rules["categories"])))
    model = pa.DataFrameSchema(
        {
            name: pa.Column(checks=[c for _, c in checks], nullable=True)
            for name, checks in plan.items()
        }
    )
    found: list[Finding] = []
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        counts = cases[cases["index"].notna()].groupby(["column", "check_number"]).size()
        for (name, number), count in counts.items():
            found.append(Finding(str(name), plan[str(name)][int(number)][0], int(count)))
    return found + _dataset_findings(frame, schema)


ENGINES: dict[str, Callable[[Path, Path], list[Finding]]] = {
    "plain": run_plain,
    "pandera": run_pandera,
}


def _mlgate_findings(stdout: str) -> set[Finding]:
    report = json.loads(stdout)
    return {Finding(v["column"], v["rule"], v["count"]) for v in report["violations"]}


def _engine_findings(stdout: str) -> set[Finding]:
    return {Finding(*item) for item in json.loads(stdout)}


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Engine:
    """A command to time and how to read what it found from its stdout."""

    name: str
    command: list[str]
    parse: Callable[[str], set[Finding]]
    exit_codes: tuple[int, ...] = (0,)
    environment: dict[str, str] = field(default_factory=lambda: dict(ENVIRONMENT))
    walls: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    findings: set[Finding] = field(default_factory=set)


def measure(engine: Engine, *, record: bool = True) -> None:
    """Run the engine once as a fresh process: wall time, its own peak RSS, its findings."""
    done = _measure.run(engine.command, env=engine.environment, keep_stderr=False)
    if done.code not in engine.exit_codes:
        raise SystemExit(f"{engine.name} exited with {done.code}; expected {engine.exit_codes}")
    engine.findings = engine.parse(done.stdout)
    if record:
        engine.walls.append(done.wall_s)
        engine.cpus.append(done.cpu_s)
        engine.peaks.append(done.peak_mb)


def engines(data: Path, schema: Path, *, pandera: bool, compare: Path | None) -> list[Engine]:
    """Everything to time, the baseline first; `compare` adds the mlgate in another src/."""
    python = sys.executable
    script = str(Path(__file__).resolve())
    mlgate = shutil.which("mlgate", path=str(Path(python).parent)) or "mlgate"
    here = [str(data), str(schema)]
    found = [
        Engine(
            "plain pandas/numpy", [python, script, "--engine", "plain", *here], _engine_findings
        ),
        Engine(
            "mlgate validate --json",
            [mlgate, "validate", str(data), "--schema", str(schema), "--json"],
            _mlgate_findings,
            exit_codes=(1,),
        ),
    ]
    if compare is not None:
        other = Engine(
            f"mlgate validate --json ({compare})",
            found[1].command,
            _mlgate_findings,
            exit_codes=(1,),
        )
        other.environment["PYTHONPATH"] = str(compare.resolve())
        found.append(other)
    if pandera:
        found.append(
            Engine(
                "pandera (pandas backend)",
                [python, script, "--engine", "pandera", *here],
                _engine_findings,
            )
        )
    return found


def table(measured: list[Engine]) -> str:
    """The figures as a Markdown table, ratios against the first engine."""
    base = statistics.median(measured[0].walls)
    lines = [
        "| engine | wall s | peak RSS MB | ratio vs plain | CPU s (user+sys) |",
        "|---|---|---|---|---|",
    ]
    for engine in measured:
        wall = statistics.median(engine.walls)
        peak = statistics.median(engine.peaks)
        cpu = statistics.median(engine.cpus)
        lines.append(
            f"| {engine.name} | {wall:.2f} | {peak:.0f} | {wall / base:.2f}x | {cpu:.2f} |"
        )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """The versions of what was measured."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ["mlgate", "numpy", "pandas", "pyarrow", "polars", "pandera"]:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def benchmark(
    rows: int, runs: int, *, pandera: bool, write: bool, compare: Path | None = None
) -> None:
    """Measure every engine, check they agree, print the table and save the figures."""
    data, schema = prepare(rows)
    expected = expected_findings(rows)
    measured = engines(data, schema, pandera=pandera, compare=compare)
    load = [os.getloadavg()[0]]
    for engine in measured:
        measure(engine, record=False)
    for _ in range(runs):  # interleaved, so a noisy moment hits every engine alike
        for engine in measured:
            measure(engine)
    load.append(os.getloadavg()[0])
    for engine in measured:
        if engine.findings != expected:
            missing, extra = expected - engine.findings, engine.findings - expected
            raise SystemExit(f"{engine.name}: missed {sorted(missing)}, extra {sorted(extra)}")
    print(f"all {len(measured)} engines found the same {len(expected)} violations:")
    for finding in sorted(expected, key=lambda f: (f.column or "", f.rule)):
        print(f"  {finding.column or '(dataset)'}: {finding.rule} x {finding.count}")
    print()
    print(f"{rows:,} rows x {len(NUMERIC) + len(CATEGORIES)} columns, median of {runs} runs:")
    print(table(measured))
    print(f"(load average {load[0]:.1f} before, {load[1]:.1f} after, on {os.cpu_count()} CPUs)")
    if not write:
        return
    base = statistics.median(measured[0].walls)
    results = {
        "rows": rows,
        "columns": {"float64": len(NUMERIC), "string": len(CATEGORIES)},
        "runs": runs,
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(x, 2) for x in load],
        "versions": versions(),
        "violations": [
            f._asdict() for f in sorted(expected, key=lambda f: (f.column or "", f.rule))
        ],
        "engines": [
            {
                "engine": e.name,
                "command": " ".join(
                    Path(e.command[0]).name if i == 0 else a for i, a in enumerate(e.command)
                ),
                "wall_s": round(statistics.median(e.walls), 3),
                "walls_s": [round(w, 3) for w in e.walls],
                "peak_rss_mb": round(statistics.median(e.peaks)),
                "cpu_s": round(statistics.median(e.cpus), 3),
                "ratio_vs_plain": round(statistics.median(e.walls) / base, 2),
            }
            for e in measured
        ],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(HERE.parent)}")


def main(argv: list[str] | None = None) -> None:
    """Measure (the default), or run one engine and print its findings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), help="run one engine and exit")
    parser.add_argument("paths", nargs="*", type=Path, help="with --engine: DATA SCHEMA")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-pandera", action="store_true", help="leave pandera's run out")
    parser.add_argument("--no-write", action="store_true", help="do not write the results")
    parser.add_argument(
        "--compare", type=Path, help="also time the mlgate in this src/ folder (another checkout)"
    )
    args = parser.parse_args(argv)
    if args.engine:
        if len(args.paths) != 2:
            parser.error("--engine needs DATA and SCHEMA")
        found = ENGINES[args.engine](*args.paths)
        json.dump([list(f) for f in found], sys.stdout)
        return
    write = not args.no_write and args.rows == 1_000_000 and args.compare is None
    benchmark(args.rows, args.runs, pandera=not args.no_pandera, write=write, compare=args.compare)


if __name__ == "__main__":
    main()
