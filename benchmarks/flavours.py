"""Every flavour on the same data: road time, ONNX or not, and how fast it serves.

RandomForest, HistGradientBoosting, XGBoost, LightGBM and CatBoost classifiers are trained
through mlgate's road on the serving benchmark's data (20 numeric features, 4,000
training rows; benchmarks/serving.py `generate`), each registered in its own
project. Per flavour the table gives:

- training time (the run's fit, cross-validation off); then, from the run's own
  progress messages, the ONNX export (with the reference profile), the load-back
  check in a fresh process, and registration (comparison, logging to the
  registry, the MLmodel);
- whether the road kept an ONNX export, and why not when it did not;
- `mlgate serve` (one worker) with ONNX Runtime and with `MLGATE_ONNX=false` (the
  version's own library), and `mlflow models serve` of the same fitted pipeline
  logged with `mlflow.sklearn.log_model` in cloudpickle (the one format that holds
  all five; MLflow serves it with MLFLOW_ALLOW_PICKLE_DESERIALIZATION): requests
  per second and p99 at 16 connections, one row per request in MLflow's
  `dataframe_split` form to `/invocations`, wrk with one thread on 127.0.0.1.

Every server is checked to answer the row as the fitted model does before it is
measured. One round by default; the shared machine's noise is the spread between
rounds (`--rounds 3` for medians).

    python benchmarks/flavours.py                     # measure, print, write results
    python benchmarks/flavours.py --only xgboost --duration 5 --no-write
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import serving as bench  # noqa: E402 - the serving benchmark's data, servers and wrk

DATA = HERE / "data" / "flavours"
RESULTS = HERE / "results" / "flavours.json"
CONNECTIONS = 16
SEED = bench.SEED

FLAVOURS: dict[str, tuple[str, dict[str, Any]]] = {
    "RandomForest": (
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 100, "max_depth": 10},
    ),
    "HistGradientBoosting": ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 100}),
    "XGBoost": ("xgboost.XGBClassifier", {"n_estimators": 100, "max_depth": 6}),
    "LightGBM": ("lightgbm.LGBMClassifier", {"n_estimators": 100, "verbose": -1}),
    "CatBoost": ("catboost.CatBoostClassifier", {"iterations": 100, "depth": 6}),
}


@dataclass
class Flavour:
    """One flavour's project, road timings and served figures."""

    name: str
    config: Path
    training_s: float = 0.0
    export_s: float = 0.0
    loadback_s: float = 0.0
    registration_s: float = 0.0
    onnx: bool = False
    onnx_note: str = ""
    mlflow_uri: str = ""
    expected: list[Any] = field(default_factory=list)
    points: dict[str, list[bench.Point]] = field(default_factory=dict)


def prepare(names: list[str]) -> tuple[list[Flavour], bytes, str]:
    """Each flavour trained and registered by mlgate and logged to MLflow; the request."""
    import mlflow
    import numpy as np
    import yaml

    from mlgate.config.loader import load_config
    from mlgate.registry.bundle import load_bundle
    from mlgate.road.run import run

    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    bench.generate(bench.TRAIN_ROWS, SEED + 1).to_parquet(DATA / "train.parquet", index=False)
    test = bench.generate(bench.TEST_ROWS, SEED + 2)
    test.to_parquet(DATA / "test.parquet", index=False)
    row = test[bench.FEATURES].iloc[[0]]
    body = {"dataframe_split": {"columns": bench.FEATURES, "data": row.to_numpy().tolist()}}

    found, fitted_models = [], []
    for name in names:
        estimator, params = FLAVOURS[name]
        folder = DATA / name.lower()
        folder.mkdir()
        config = {
            "name": name.lower(),
            "seed": 7,
            "data": {"train": "../train.parquet", "test": "../test.parquet", "target": "y"},
            "model": {"estimator": estimator, "params": params, "cv_folds": 0},
        }
        (folder / "mlgate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        flavour = Flavour(name, folder / "mlgate.yaml")
        print(f"{name}: mlgate's road ...", file=sys.stderr)
        marks: dict[str, float] = {}

        def mark(message: str, marks: dict[str, float] = marks) -> None:
            marks.setdefault(message, time.perf_counter())

        result = run(load_config(flavour.config), register=True, progress=mark)
        ended = time.perf_counter()
        if not result.passed or result.registration is None:
            raise SystemExit(f"{name} did not pass the road: {result.reasons}")
        flavour.training_s = float(result.training_time_s or 0.0)
        flavour.export_s = marks["loading it back as the gateway will"] - marks["exporting to ONNX"]
        flavour.loadback_s = (
            marks["comparing with the champion"] - marks["loading it back as the gateway will"]
        )
        flavour.registration_s = ended - marks["comparing with the champion"]
        fitted, card = load_bundle(result.output_dir)
        flavour.onnx = card.onnx is not None
        flavour.onnx_note = card.onnx_note or ""
        flavour.expected = np.asarray(fitted.predict(row)).tolist()
        found.append(flavour)
        fitted_models.append(fitted)
    # After mlgate's roads: MLflow's tracking URI, once set, is where mlgate registers too.
    store = f"sqlite:///{DATA / 'mlflow' / 'mlflow.db'}"
    (DATA / "mlflow").mkdir()
    mlflow.set_tracking_uri(store)
    experiment = mlflow.create_experiment(
        "flavours", artifact_location=(DATA / "mlflow" / "artifacts").as_uri()
    )
    for flavour, fitted in zip(found, fitted_models, strict=True):
        with mlflow.start_run(experiment_id=experiment, run_name=flavour.name):
            logged = mlflow.sklearn.log_model(
                fitted, name="model", serialization_format="cloudpickle", input_example=row
            )
        flavour.mlflow_uri = logged.model_uri
    return found, json.dumps(body).encode(), store


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], scratch: Path) -> Iterator[int]:
    """The server started on a free port, answering; stopped (its whole group) after."""
    port = bench.free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    with (scratch / "server.log").open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            bench.wait_ready(process, port, "/ping", scratch)
            yield port
        finally:
            bench.stop(process)


def measure(flavour: Flavour, body: bytes, store: str, seconds: float, warmup: float) -> None:
    env = bench.clean_env()
    mlgate = [str(bench.BIN / "mlgate"), "serve", "-c", str(flavour.config)]
    mlgate += ["--host", "127.0.0.1", "--port", "{port}", "--workers", "1"]
    mlgate += ["--log-level", "warning"]
    mlflow = [str(bench.BIN / "mlflow"), "models", "serve", "-m", flavour.mlflow_uri]
    mlflow += list(bench.MLFLOW_OPTIONS)
    servers = [
        (
            "mlflow models serve",
            mlflow,
            env | {"MLFLOW_TRACKING_URI": store, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
        ),
        ("mlgate serve, scikit-learn path", mlgate, env | {"MLGATE_ONNX": "false"}),
    ]
    if flavour.onnx:
        servers.append(("mlgate serve, ONNX Runtime", mlgate, dict(env)))
    script = bench.lua(body, DATA)
    for label, command, environment in servers:
        with tempfile.TemporaryDirectory(prefix="flavour-", dir=DATA) as folder:
            scratch = Path(folder)
            if label.startswith("mlgate"):
                environment = environment | {"MLGATE_LOG_PATH": str(scratch / "logs")}
            with serving(command, environment, scratch) as port:
                status, answer = bench.request(port, "/invocations", body)
                got = bench.answered(answer) if status == 200 else None
                if got != flavour.expected:
                    raise SystemExit(
                        f"{flavour.name}, {label}: answered {status} {answer[:300]!r}; "
                        f"expected {flavour.expected}"
                    )
                bench.wrk(port, CONNECTIONS, warmup, script)
                point = bench.wrk(port, CONNECTIONS, seconds, script)
                flavour.points.setdefault(label, []).append(point)
                print(
                    f"  {flavour.name:22} {label:34} {point.rps:8.0f} req/s  "
                    f"p99 {point.p99_ms:7.2f} ms"
                    + (f"  ERRORS {point.errors}" if point.errors else ""),
                    file=sys.stderr,
                )


def _figure(flavour: Flavour, label: str) -> str:
    points = flavour.points.get(label)
    if not points:
        return "-"
    rps = statistics.median(p.rps for p in points)
    p99 = statistics.median(p.p99_ms for p in points)
    return f"{rps:,.0f} req/s, p99 {p99:.1f} ms"


def table(flavours: list[Flavour]) -> str:
    lines = [
        "| model | training | ONNX export | load-back check | registration | ONNX "
        "| mlgate, ONNX | mlgate, own library | mlflow models serve |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in flavours:
        lines.append(
            f"| {f.name} | {f.training_s:.2f} s | {f.export_s:.2f} s | {f.loadback_s:.2f} s | "
            f"{f.registration_s:.2f} s | "
            f"{'yes' if f.onnx else 'no'} | {_figure(f, 'mlgate serve, ONNX Runtime')} | "
            f"{_figure(f, 'mlgate serve, scikit-learn path')} | "
            f"{_figure(f, 'mlflow models serve')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", type=str.lower, help="flavours, e.g. xgboost")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--duration", type=float, default=8.0, help="Measured seconds a point.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured seconds first.")
    parser.add_argument("--no-write", action="store_true", help=f"Do not write {RESULTS.name}.")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = [n for n in FLAVOURS if not args.only or n.lower() in args.only]
    flavours, body, store = prepare(names)
    for round_ in range(args.rounds):
        print(f"round {round_ + 1} of {args.rounds}", file=sys.stderr)
        for flavour in flavours:
            measure(flavour, body, store, args.duration, args.warmup)
    print(table(flavours))
    for f in flavours:
        if not f.onnx:
            print(f"{f.name}: no ONNX export: {f.onnx_note}")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if args.no_write:
        return
    RESULTS.write_text(
        json.dumps(
            {
                "connections": CONNECTIONS,
                "duration_s": args.duration,
                "rounds": args.rounds,
                "packages": bench.package_versions(),
                "flavours": [
                    {
                        "name": f.name,
                        "training_s": round(f.training_s, 3),
                        "export_s": round(f.export_s, 3),
                        "loadback_s": round(f.loadback_s, 3),
                        "registration_s": round(f.registration_s, 3),
                        "onnx": f.onnx,
                        "onnx_note": f.onnx_note,
                        "served": {
                            label: [p.__dict__ for p in points]
                            for label, points in f.points.items()
                        },
                    }
                    for f in flavours
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
