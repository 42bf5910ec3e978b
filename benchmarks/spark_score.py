"""Batch scoring on Spark: `mlgate score` on both engines against MLflow's `spark_udf`.

A RandomForest (100 trees, depth 10) on the serving benchmark's data (20 numeric
features, 4,000 training rows; benchmarks/serving.py `generate`) goes down
mlgate's road and is registered (with its ONNX export, which mlgate scores with).
The input is `--rows` rows of the same generator as one Parquet file in row groups
of 50,000 (Spark splits it into partitions by row group). Three runs, each a fresh
process timed from start to exit (Python's start, the model's load and Spark's
start included) and writing Parquet:

- `mlgate score models:/rf-spark-score@champion INPUT OUTPUT --engine local`
- the same with `--engine spark`: Spark `local[2]`, 4 GB of driver memory
  (`PYSPARK_SUBMIT_ARGS`), the verified model inside `mapInArrow`;
- the anchor: the same fitted pipeline logged with a plain `mlflow.sklearn.log_model`
  (cloudpickle), scored by `mlflow.pyfunc.spark_udf(spark, uri, env_manager="local")`
  on the same Spark, `df.withColumn("prediction", udf(struct(...)))` written as Parquet.

rows/s is rows over the whole process's wall time; the table also gives each
tool's own scoring time where it reports one (mlgate's summary after loading the
model; the anchor's from reading to the written output) and the share of rows on
which the anchor's predictions agree with mlgate's.

    python benchmarks/spark_score.py                          # 1,000,000 rows; print and write
    python benchmarks/spark_score.py --rows 200000 --no-write
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _measure  # noqa: E402

import serving as bench  # noqa: E402 - the serving benchmark's data generator

WORK = Path(os.environ.get("MLGATE_BENCH_DIR", "/tmp/mlgate-bench-spark-score"))
RESULTS = HERE / "results" / "spark_score.json"
SPARK = "--master local[2] --driver-memory 4g pyspark-shell"
MODEL = "rf-spark-score"
TIMEOUT_S = 3600.0

CONFIG = f"""\
name: {MODEL}
seed: 7
data:
  train: train.parquet
  test: test.parquet
  target: y
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {{n_estimators: {bench.TREES}, max_depth: {bench.DEPTH}}}
  cv_folds: 0
"""

#: The anchor, in its own process: spark_udf over the input, written as Parquet.
ANCHOR = """
import json, sys, time
start = time.perf_counter()
import mlflow.pyfunc
from pyspark.sql import SparkSession, functions as F
uri, source, target = sys.argv[1:4]
features = sys.argv[4].split(",")
spark = SparkSession.builder.appName("anchor").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
udf = mlflow.pyfunc.spark_udf(spark, uri, env_manager="local")
scoring = time.perf_counter()
frame = spark.read.parquet(source)
frame.withColumn("prediction", udf(F.struct(*features))).write.parquet(target)
rows = spark.read.parquet(target).count()
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start,
                  "scoring_seconds": time.perf_counter() - scoring}))
"""


def project() -> tuple[Path, str]:
    """The registered project (built once) and the MLflow URI of the same fitted pipeline."""
    folder = WORK / "project"
    ready = folder / "ready"
    if ready.exists():
        return folder / "mlgate.yaml", ready.read_text(encoding="utf-8")
    import mlflow

    from mlgate.config.loader import load_config
    from mlgate.registry.bundle import load_bundle
    from mlgate.road.run import run

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    bench.generate(bench.TRAIN_ROWS, bench.SEED + 1).to_parquet(folder / "train.parquet")
    test = bench.generate(bench.TEST_ROWS, bench.SEED + 2)
    test.to_parquet(folder / "test.parquet")
    config = folder / "mlgate.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    print("mlgate's road ...", file=sys.stderr, flush=True)
    result = run(load_config(config), register=True)
    if not result.passed or result.registration is None:
        raise SystemExit(f"the road did not register the forest: {result.reasons}")
    fitted, card = load_bundle(result.output_dir)
    if card.onnx is None:
        print(f"note: no ONNX export ({card.onnx_note})", file=sys.stderr)
    # After the road: MLflow's tracking URI, once set, is where mlgate registers too.
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'anchor.db'}")
    experiment = mlflow.create_experiment("anchor", artifact_location=(folder / "anchor").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        logged = mlflow.sklearn.log_model(
            fitted,
            name="model",
            serialization_format="cloudpickle",
            input_example=test[bench.FEATURES].iloc[:5],
        )
    ready.write_text(logged.model_uri, encoding="utf-8")
    return config, logged.model_uri


def data(rows: int) -> Path:
    """`rows` rows of the generator's features as one Parquet file (built once per size)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = WORK / f"input-{rows}.parquet"
    if path.exists():
        return path
    partial = path.with_suffix(".tmp")
    with pq.ParquetWriter(partial, pa.schema([(f, pa.float64()) for f in bench.FEATURES])) as w:
        for part, start in enumerate(range(0, rows, 50_000)):
            chunk = bench.generate(min(50_000, rows - start), bench.SEED + 100 + part)
            w.write_table(pa.Table.from_pandas(chunk[bench.FEATURES], preserve_index=False))
    partial.rename(path)
    return path


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, dict[str, Any]]:
    """Run `command` once: its wall time and the JSON object it printed."""
    done = _measure.run(command, env=env, cwd=cwd, timeout=TIMEOUT_S)
    if done.code != 0:
        raise SystemExit(f"{' '.join(command)} exited with {done.code}:\n{done.stderr}")
    return done.wall_s, json.loads(done.stdout)


def run(rows: int) -> list[dict[str, Any]]:
    import pandas as pd
    import pyarrow.parquet as pq

    config, uri = project()
    source = data(rows)
    out = WORK / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = bench.clean_env()
    spark_env = env | {"PYSPARK_SUBMIT_ARGS": SPARK, "PYSPARK_PYTHON": sys.executable}
    mlgate = [str(bench.BIN / "mlgate"), "score", f"models:/{MODEL}@champion", str(source)]
    found = []
    for engine, output in (("local", out / "local.parquet"), ("spark", out / "spark")):
        print(f"mlgate score --engine {engine}, {rows:,} rows ...", file=sys.stderr, flush=True)
        command = [*mlgate, str(output), "--engine", engine, "--json", "-q", "-c", str(config)]
        wall, summary = timed(command, spark_env if engine == "spark" else env, config.parent)
        if summary["rows_scored"] != rows:
            raise SystemExit(f"{engine}: {summary['rows_scored']} of {rows} rows scored")
        scoring = summary.get("scoring_seconds")
        found.append({"tool": f"mlgate score --engine {engine}", "wall_s": wall, "own_s": scoring})
    print(f"mlflow.pyfunc.spark_udf, {rows:,} rows ...", file=sys.stderr, flush=True)
    anchor_env = spark_env | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{config.parent / 'anchor.db'}",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    }
    anchor = [sys.executable, "-c", ANCHOR, uri, str(source), str(out / "anchor")]
    wall, summary = timed([*anchor, ",".join(bench.FEATURES)], anchor_env, WORK)
    if summary["rows"] != rows:
        raise SystemExit(f"the anchor wrote {summary['rows']} of {rows} rows")
    found.append(
        {"tool": "mlflow.pyfunc.spark_udf", "wall_s": wall, "own_s": summary["scoring_seconds"]}
    )
    local = pq.read_table(out / "local.parquet", columns=["prediction"]).to_pandas()
    spark = pq.read_table(out / "spark", columns=["row_id", "prediction"]).to_pandas()
    spark = spark.sort_values("row_id")["prediction"].to_numpy()
    # The anchor's parts are in the input's order (one file, partitions by row group).
    theirs = pd.read_parquet(out / "anchor", columns=["prediction"])["prediction"]
    ours = local["prediction"].astype(float).to_numpy()
    for result in found:
        result.update(rows=rows, rows_per_s=rows / result["wall_s"])
    found[1]["agrees_with_local"] = float((spark.astype(float) == ours).mean())
    found[2]["agrees_with_local"] = float((theirs.to_numpy(dtype=float) == ours).mean())
    found[0]["agrees_with_local"] = 1.0
    return found


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| run | rows | wall (whole process) | rows/s | own scoring time | agrees |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        own = "-" if r["own_s"] is None else f"{r['own_s']:.1f} s"
        lines.append(
            f"| `{r['tool']}` | {r['rows']:,} | {r['wall_s']:.1f} s | {r['rows_per_s']:,.0f} "
            f"| {own} | {r['agrees_with_local']:.2%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to score")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    results = run(args.rows)
    print(table(results))
    if not args.no_write:
        machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "load": load}
        document = {"machine": machine, "spark": SPARK, "model": CONFIG, "results": results}
        RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
