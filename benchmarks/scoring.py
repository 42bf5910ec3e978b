"""Batch scoring, whole process: `mlgate score` over Parquet, rows/s and peak memory.

The example project (credit-risk: 4 numeric + 2 categorical features, the
example's RandomForest, exported to ONNX) is trained and registered once; its
training rows are resampled into Parquet inputs of the sizes asked for (written
in row groups of 100,000, never held whole). Each run is a fresh `mlgate score
models:/credit-risk@champion` process, timed from start to exit, with its peak
RSS; the summary's own rows/s leaves out loading the model (MLflow import, the
registry, digests). `--log` runs append every row to the prediction log too.

    python benchmarks/scoring.py                      # 200k and 2M rows; print and write results
    python benchmarks/scoring.py --rows 200000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

import _measure

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scoring.json"
WORK = Path(os.environ.get("MLGATE_BENCH_DIR", "/tmp/mlgate-bench-scoring"))


def project() -> Path:
    """The registered example project (built once); its folder."""
    folder = WORK / "project"
    if (folder / "ready").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    from mlgate.config.loader import load_config
    from mlgate.road.run import run
    from mlgate.scaffold.example import write_example

    config = write_example(folder, rows=2000)
    result = run(load_config(config), register=True)
    if result.registration is None:
        raise SystemExit(f"the example did not register: {result.reasons}")
    (folder / "ready").touch()
    return folder


def data(rows: int, folder: Path) -> Path:
    """`rows` rows resampled from the example's training rows, as one Parquet file."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = WORK / f"input-{rows}.parquet"
    if path.exists():
        return path
    train = pd.read_csv(folder / "data" / "train.csv").drop(columns=["default"])
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, pa.Schema.from_pandas(train, preserve_index=False)) as writer:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            part = train.iloc[rng.integers(0, len(train), n)].reset_index(drop=True)
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False))
    return path


def score(folder: Path, source: Path, *extra: str) -> dict[str, Any]:
    """One `mlgate score` process: wall seconds, its own peak RSS, and its summary."""
    output = WORK / "scored.parquet"
    command = [
        *(sys.executable, "-m", "mlgate", "score", "models:/credit-risk@champion"),
        *(str(source), str(output), "--overwrite", "--json", *extra),
    ]
    done = _measure.run(command, cwd=folder)
    if done.code != 0:
        raise SystemExit(done.stderr)
    summary = json.loads(done.stdout)
    return {
        "args": list(extra),
        "rows": summary["rows_scored"],
        "wall_s": round(done.wall_s, 2),
        "scoring_s": round(summary["scoring_seconds"], 2),
        "rows_per_s": round(summary["rows_per_s"]),
        "peak_rss_mb": round(done.peak_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="*", default=[200_000, 2_000_000])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    folder = project()
    runs = []
    for rows in sorted(args.rows):
        source = data(rows, folder)
        for extra in ([], ["--log"]):
            shutil.rmtree(folder / ".mlgate" / "logs", ignore_errors=True)
            run = score(folder, source, *extra)
            print(json.dumps(run))
            runs.append(run)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "runs": runs,
    }
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
