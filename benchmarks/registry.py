"""Registering a model version: `Catalog.register` on an embedded MLflow registry (SQLite).

mlgate logs its own verified bundle (model.skops, model.onnx, model.json, the test
set) as a run's artifacts and points a model version at it; it never calls
`mlflow.sklearn.log_model`, which infers pip requirements in a subprocess and saves
the model again (about 4.3 s, see MEASURED.md). This script times, in one process:

- `import mlflow`;
- first use of a new registry: creating and migrating the SQLite database;
- the first `register` (it also creates the experiment and the registered model);
- warm `register` calls on the same registry (median, min, max);
- with --log-model, `mlflow.sklearn.log_model` of the same model, for comparison.

    python benchmarks/registry.py                  # print, and write results/registry.json
    python benchmarks/registry.py --repeat 20 --log-model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "registry.json"
ROWS, FEATURES, TREES, SEED = 2000, 20, 100, 20261126


def bundle(folder: Path) -> dict[str, Any]:
    """A RandomForest bundle the way `mlgate run` writes one: skops, ONNX, card, test set."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    from mlgate.registry.bundle import TEST_SET, save_bundle
    from mlgate.registry.onnx import export_onnx
    from mlgate.training.preprocessing import build_model, prepare_features

    rng = np.random.default_rng(SEED)
    names = [f"x{i:02d}" for i in range(FEATURES)]
    frame = pd.DataFrame(rng.normal(0, 1, (ROWS, FEATURES)), columns=names)
    frame["label"] = np.where(frame["x00"] + frame["x01"] > 0, "yes", "no")
    kinds = dict.fromkeys(names, "numeric")
    model = build_model(RandomForestClassifier(n_estimators=TREES, random_state=0), kinds, "auto")
    train, test = frame.iloc[:1500], frame.iloc[1500:]
    model.fit(prepare_features(train, kinds), train["label"])
    folder.mkdir(parents=True)
    exported = export_onnx(
        model, kinds, "classification", prepare_features(test, kinds), folder / "model.onnx"
    )
    test.to_parquet(folder / TEST_SET, index=False)
    card = save_bundle(
        model,
        folder,
        {
            "name": "bench",
            "task": "classification",
            "target": "label",
            "features": names,
            "kinds": kinds,
            "classes": ["no", "yes"],
            "onnx": exported.artifact,
            "onnx_note": exported.reason,
        },
    )
    return {"model": model, "sha256": card.artifact.sha256}


def measure(repeat: int, log_model: bool) -> dict[str, Any]:
    from mlgate.config.settings import Settings
    from mlgate.project import Project

    for name in ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-") as tmp:
        root = Path(tmp)
        made = bundle(root / "run")
        size = sum(p.stat().st_size for p in (root / "run").iterdir())

        start = time.perf_counter()
        import mlflow

        import_s = time.perf_counter() - start

        project = Project(root / "project", Settings())
        catalog = project.catalog
        start = time.perf_counter()
        catalog.models()  # creates and migrates the SQLite database
        first_use_s = time.perf_counter() - start

        def register() -> float:
            start = time.perf_counter()
            catalog.register(
                "bench",
                root / "run",
                passed=True,
                reasons=[],
                metrics={"accuracy": 0.9, "f1": 0.9},
                params={"estimator": "sklearn.ensemble.RandomForestClassifier"},
                tags={"mlgate.target": "label"},
                sha256=made["sha256"],
                run_name="bench",
            )
            return time.perf_counter() - start

        first_register_s = register()
        warm = [register() for _ in range(repeat)]
        results: dict[str, Any] = {
            "description": __doc__.splitlines()[0],
            "bundle": {
                "rows": ROWS,
                "features": FEATURES,
                "trees": TREES,
                "files": sorted(p.name for p in (root / "run").iterdir()),
                "bytes": size,
            },
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "import_mlflow_s": round(import_s, 3),
            "first_use_s": round(first_use_s, 3),
            "first_register_s": round(first_register_s, 3),
            "warm_register_s": {
                "runs": repeat,
                "median": round(statistics.median(warm), 4),
                "min": round(min(warm), 4),
                "max": round(max(warm), 4),
            },
        }
        if log_model:
            import mlflow.sklearn

            mlflow.set_tracking_uri(catalog.uri)
            mlflow.set_experiment("log-model")
            with mlflow.start_run():
                start = time.perf_counter()
                mlflow.sklearn.log_model(
                    made["model"], name="model", serialization_format="cloudpickle"
                )
                results["mlflow_sklearn_log_model_s"] = round(time.perf_counter() - start, 3)
        project.close()
        return results


def main(argv: list[str] | None = None) -> None:
    """Measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="Warm registrations to time.")
    parser.add_argument(
        "--log-model", action="store_true", help="Also time mlflow.sklearn.log_model."
    )
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args(argv)
    results = measure(args.repeat, args.log_model)
    warm = results["warm_register_s"]
    print(f"import mlflow            {results['import_mlflow_s']:7.3f} s")
    print(f"first use (create DB)    {results['first_use_s']:7.3f} s")
    print(f"first register           {results['first_register_s']:7.3f} s")
    print(
        f"warm register            {warm['median']:7.3f} s median "
        f"(min {warm['min']:.3f}, max {warm['max']:.3f}, {warm['runs']} runs)"
    )
    if "mlflow_sklearn_log_model_s" in results:
        print(f"mlflow.sklearn.log_model {results['mlflow_sklearn_log_model_s']:7.3f} s")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
