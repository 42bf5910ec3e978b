"""Performance estimated without labels: how close, how often inside its interval, and
what an enforced rollout rule would do with it; NannyML on the same data as the anchor.

    python benchmarks/estimation.py               # print and write results
    python benchmarks/estimation.py --windows 20 --no-write   # a quicker look

NannyML runs in its own venv, on the same Parquet files, when that venv exists:

    python3.11 -m venv /tmp/nannyml-venv
    /tmp/nannyml-venv/bin/pip install nannyml statsmodels

(nannyml 0.13.1 imports statsmodels without declaring it.) Set NANNYML_PYTHON to use
another interpreter.

What the figures say (benchmarks/results/estimation.json, 100 windows a case; the
README's table). Under covariate shift mlgate and NannyML 0.13.1 track the realized
figures equally closely (accuracy and F1 within about 0.01; MAE within 0.04-0.05 on
about 1.3); mlgate's 95% intervals hold 91-99% of classifier windows, while NannyML's
ROC AUC bounds, the reference's width whatever the shift, hold 15-60% once the shift
moves AUC; mlgate's regressor intervals hold 85-96% of windows, three-fifths the width
of NannyML's DLE bounds. Under concept drift every estimate misses (0.1
accuracy, 0.9 MAE), as it must. Enforced on one 500-row analysis, the rule never rolled
back an equal challenger, caught a 15%-worse regressor in 3-25% of windows (more as the
shift moves rows to where it errs), and no 0.01-0.03-worse classifier.

How the figures are made. A binary classifier (HistGradientBoostingClassifier on
`make_classification`: 10 features, 5 informative, 5% of labels flipped) and a regressor
(HistGradientBoostingRegressor on `make_friedman1` with noise whose size grows with x3)
are trained on 10,000 rows; 5,000 held-out rows give mlgate's calibration and loss model
(as registration fits them) and NannyML's reference; the remaining 45,000 rows are the
pool live windows are drawn from. Covariate shift of size s draws each window's 500 rows
from the pool with probability proportional to exp(s * z), z the standardised first
feature (the rule that makes the label is untouched: only where the rows fall moves),
for s in 0, 0.5, 1, 1.5, 2. One concept-drift case draws windows unshifted, then changes
the labels' rule (a quarter of the rows with x1 > 0 have their label flipped; a
regressor's target gains 3 where x1 > 0.5): estimates cannot see it, and the figures
show by how much. 100 windows per case. Figures per case: the mean absolute error of the
estimate against the window's realized figure, the share of windows whose realized
figure falls inside the 95% interval (NannyML's bounds are its default 3 sampling
errors), and the mean interval width.

Rollout decisions: the champion and two challengers, each with its own calibration or
loss model fitted on the same held-out rows: an *equal* one (the same learner trained on
10,000 other rows) and a *worse* one (a classifier: 40 boosting iterations of depth 2,
about 0.03 less accurate; a regressor: the same learner on 1,000 rows, about 15% more
MAE). Each window is a canary's challenger rows, which the champion
also answered (its reference answers), and `rollout.analysis.estimated: enforce` rolls
the challenger back when its estimated interval lies below the champion's by more than
the margin (0.02; a regressor's MAE, 2% of the champion's). Reported: how often it rolls
back the equal challenger (wrong) and how often it keeps the worse one (each window is one
analysis; the rule acts before labels, and live accuracy has the last word after).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# One thread per process: OpenMP's threads in scikit-learn's boosting spin against each
# other on a small, shared machine, and a 500-row window gains nothing from them.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "estimation.json"
NANNYML_PYTHON = Path(os.environ.get("NANNYML_PYTHON", "/tmp/nannyml-venv/bin/python"))

SHIFTS = (0.0, 0.5, 1.0, 1.5, 2.0)
CONCEPT = "concept"
WINDOW_ROWS = 500
MARGIN = 0.02
TRAIN, HELD_OUT, POOL = 10_000, 5_000, 45_000


def _data(task: str, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification, make_friedman1

    if task == "classification":
        # Features unshuffled (the informative ones first), rows shuffled.
        X, y = make_classification(
            rows, n_features=10, n_informative=5, flip_y=0.05, shuffle=False, random_state=seed
        )
        order = np.random.default_rng(seed).permutation(rows)
        return X[order], y[order]
    X, y = make_friedman1(rows, n_features=6, noise=0.0, random_state=seed)
    rng = np.random.default_rng(seed)
    return X, y + rng.normal(0, 1, rows) * (0.5 + 2 * X[:, 3])


def _learner(task: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "classification":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    return HistGradientBoostingRegressor(max_iter=100, random_state=seed)


def _models(task: str, seed: int) -> dict[str, Any]:
    """Champion, equal and worse challengers, and the held-out and pool rows."""
    X, y = _data(task, 2 * TRAIN + HELD_OUT + POOL, seed)
    train, other = slice(0, TRAIN), slice(TRAIN, 2 * TRAIN)
    held = slice(2 * TRAIN, 2 * TRAIN + HELD_OUT)
    pool = slice(2 * TRAIN + HELD_OUT, None)
    champion = _learner(task, 0).fit(X[train], y[train])
    equal = _learner(task, 1).fit(X[other], y[other])
    if task == "classification":
        worse = _learner(task, 2).set_params(max_iter=40, max_depth=2).fit(X[other], y[other])
    else:
        worse = _learner(task, 2).fit(X[other][:1000], y[other][:1000])
    return {
        "models": {"champion": champion, "equal": equal, "worse": worse},
        "held": (X[held], y[held]),
        "pool": (X[pool], y[pool]),
    }


def _frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


def _fitted(task: str, model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """The calibration (classifier) or loss model (regressor) registration would fit."""
    from mlgate.stats.estimate import Calibration
    from mlgate.stats.loss import LossModel

    if task == "classification":
        top = model.predict_proba(X).max(axis=1)
        return Calibration.fit(top, model.predict(X) == y)
    kinds = {f"x{i}": "numeric" for i in range(X.shape[1])}
    return LossModel.fit(_frame(X), model.predict(X), y, kinds)


def _windows(task: str, pool: tuple[np.ndarray, np.ndarray], case: Any, count: int, seed: int):
    """`count` windows of WINDOW_ROWS rows of the pool for `case` (a shift or CONCEPT)."""
    X, y = pool
    rng = np.random.default_rng(seed)
    z = (X[:, 0] - X[:, 0].mean()) / X[:, 0].std()
    shift = 0.0 if case == CONCEPT else float(case)
    weights = np.exp(shift * z)
    weights /= weights.sum()
    for _ in range(count):
        rows = rng.choice(len(X), WINDOW_ROWS, replace=False, p=weights)
        Xw, yw = X[rows], y[rows].copy()
        if case == CONCEPT:
            if task == "classification":
                flip = (Xw[:, 1] > 0) & (rng.random(WINDOW_ROWS) < 0.25)
                yw[flip] = 1 - yw[flip]
            else:
                yw = yw + 3.0 * (Xw[:, 1] > 0.5)
        yield Xw, yw


def _realized(task: str, model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score, roc_auc_score

    predicted = model.predict(X)
    if task == "classification":
        return {
            "accuracy": float((predicted == y).mean()),
            "f1": float(f1_score(y, predicted)),
            "roc_auc": float(roc_auc_score(y, model.predict_proba(X)[:, 1])),
        }
    residual = y - predicted
    return {
        "mae": float(np.abs(residual).mean()),
        "rmse": float(np.sqrt((residual**2).mean())),
    }


def _estimated(task: str, fitted: Any, model: Any, X: np.ndarray) -> dict[str, tuple]:
    """mlgate's estimates with intervals: metric -> (value, low, high)."""
    from mlgate.stats.estimate import estimate_accuracy, estimate_binary
    from mlgate.stats.loss import estimate_error

    if task == "classification":
        probability = model.predict_proba(X)
        top = probability.max(axis=1)
        positive = probability[:, 1] > probability[:, 0]
        accuracy = estimate_accuracy(fitted, top)
        binary = estimate_binary(fitted, top, positive)
        assert accuracy is not None
        assert binary is not None
        return {
            "accuracy": (accuracy.accuracy, accuracy.low, accuracy.high),
            "f1": (binary.f1, binary.f1_low, binary.f1_high),
            "roc_auc": (binary.roc_auc, binary.roc_auc_low, binary.roc_auc_high),
        }
    error = estimate_error(fitted, _frame(X), model.predict(X))
    assert error is not None
    return {
        "mae": (error.mae, error.mae_low, error.mae_high),
        "rmse": (error.rmse, error.rmse_low, error.rmse_high),
    }


def _shortfall(task: str, champion: tuple, challenger: tuple) -> float:
    """How far the challenger's interval lies beyond the champion's on the worse side, as
    mlgate.rollout.estimated.Estimated.shortfall measures it."""
    if task == "classification":
        return champion[1] - challenger[2]
    return (challenger[1] - champion[2]) / champion[0]


def _summary(estimates: list[tuple], realized: list[float]) -> dict[str, float]:
    value = np.array([e[0] for e in estimates])
    low = np.array([e[1] for e in estimates])
    high = np.array([e[2] for e in estimates])
    truth = np.array(realized)
    return {
        "mae": round(float(np.abs(value - truth).mean()), 4),
        "coverage": round(float(((low <= truth) & (truth <= high)).mean()), 3),
        "width": round(float((high - low).mean()), 4),
        "realized": round(float(truth.mean()), 4),
    }


def run_task(task: str, windows: int, seed: int, folder: Path) -> dict[str, Any]:
    built = _models(task, seed)
    models = built["models"]
    held_X, held_y = built["held"]
    fitted = {name: _fitted(task, m, held_X, held_y) for name, m in models.items()}
    metrics = ["accuracy", "f1", "roc_auc"] if task == "classification" else ["mae", "rmse"]
    cases: dict[str, Any] = {}
    truths: dict[str, dict[str, list]] = {}
    analysis_parts = []
    for index, case in enumerate([*SHIFTS, CONCEPT]):
        name = case if case == CONCEPT else f"shift {case:g}"
        found: dict[str, list] = {m: [] for m in metrics}
        truth: dict[str, list] = {m: [] for m in metrics}
        decisions = {"equal_rolled_back": 0, "worse_kept": 0, "worse_gap": []}
        for X, y in _windows(task, built["pool"], case, windows, seed + 100 + index):
            champion = models["champion"]
            estimate = _estimated(task, fitted["champion"], champion, X)
            real = _realized(task, champion, X, y)
            for m in metrics:
                found[m].append(estimate[m])
                truth[m].append(real[m])
            head = metrics[0]
            for rival in ("equal", "worse"):
                theirs = _estimated(task, fitted[rival], models[rival], X)[head]
                back = _shortfall(task, estimate[head], theirs) > MARGIN
                if rival == "equal":
                    decisions["equal_rolled_back"] += back
                else:
                    decisions["worse_kept"] += not back
                    gap = _realized(task, models["worse"], X, y)[head] - real[head]
                    decisions["worse_gap"].append(gap if task == "classification" else -gap)
            analysis_parts.append(_nannyml_rows(task, champion, X, y, name))
        cases[name] = {
            "mlgate": {m: _summary(found[m], truth[m]) for m in metrics},
            "enforce": {
                "equal_rolled_back": round(decisions["equal_rolled_back"] / windows, 3),
                "worse_kept": round(decisions["worse_kept"] / windows, 3),
                "worse_realized_gap": round(float(np.mean(decisions["worse_gap"])), 4),
            },
        }
        truths[name] = truth
    reference = _nannyml_rows(task, models["champion"], held_X, held_y, "reference")
    nanny = _nannyml(task, reference, pd.concat(analysis_parts, ignore_index=True), folder)
    if "error" in nanny:
        return {"cases": cases, "nannyml": nanny}
    for name, figures in cases.items():
        figures["nannyml"] = {m: _summary(nanny[name][m], truths[name][m]) for m in metrics}
    return {"cases": cases, "nannyml": {"version": nanny["version"]}}


def _nannyml_rows(task: str, model: Any, X: np.ndarray, y: np.ndarray, case: str) -> pd.DataFrame:
    frame = _frame(X)
    frame["y_true"] = y
    frame["y_pred"] = model.predict(X)
    if task == "classification":
        frame["y_pred_proba"] = model.predict_proba(X)[:, 1]
    frame["case"] = case
    return frame


_NANNYML_SCRIPT = """
import json, sys
import pandas as pd
import nannyml as nml

task, folder, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
reference = pd.read_parquet(f"{folder}/reference.parquet").drop(columns="case")
analysis = pd.read_parquet(f"{folder}/analysis.parquet")
features = [c for c in reference.columns if c.startswith("x")]
if task == "classification":
    metrics = ["accuracy", "f1", "roc_auc"]
    estimator = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
                         metrics=metrics, chunk_size=rows, problem_type="classification_binary")
else:
    metrics = ["mae", "rmse"]
    estimator = nml.DLE(feature_column_names=features, y_pred="y_pred", y_true="y_true",
                        metrics=metrics, chunk_size=rows)
estimator.fit(reference)
result = estimator.estimate(analysis.drop(columns=["case", "y_true"])).filter(period="analysis")
frame = result.to_df()
out = {"version": nml.__version__, "chunks": len(frame), "metrics": {}}
for m in metrics:
    out["metrics"][m] = {
        "value": frame[(m, "value")].tolist(),
        "low": frame[(m, "lower_confidence_boundary")].tolist(),
        "high": frame[(m, "upper_confidence_boundary")].tolist(),
    }
print(json.dumps(out))
"""


def _nannyml(
    task: str, reference: pd.DataFrame, analysis: pd.DataFrame, folder: Path
) -> dict[str, Any]:
    """NannyML's estimate per window, by case: metric -> [(value, low, high)]; or why not."""
    if not NANNYML_PYTHON.exists():
        return {"error": f"no NannyML interpreter at {NANNYML_PYTHON} (see the docstring)"}
    reference.to_parquet(folder / "reference.parquet", index=False)
    analysis.to_parquet(folder / "analysis.parquet", index=False)
    script = folder / "nannyml_run.py"
    script.write_text(_NANNYML_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [str(NANNYML_PYTHON), str(script), task, str(folder), str(WINDOW_ROWS)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    found = json.loads(done.stdout.strip().splitlines()[-1])
    cases = analysis["case"].to_numpy()[::WINDOW_ROWS]
    by_case: dict[str, Any] = {"version": found["version"]}
    for m, series in found["metrics"].items():
        for i, case in enumerate(cases):
            triple = (series["value"][i], series["low"][i], series["high"][i])
            by_case.setdefault(case, {}).setdefault(m, []).append(triple)
    return by_case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=100, help="Windows per case.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "windows": args.windows,
        "window_rows": WINDOW_ROWS,
        "margin": MARGIN,
    }
    with tempfile.TemporaryDirectory() as folder:
        for task in ("classification", "regression"):
            part = Path(folder) / task
            part.mkdir()
            summary[task] = run_task(task, args.windows, args.seed, part)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, indent=2))
    if not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS.relative_to(HERE.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()
