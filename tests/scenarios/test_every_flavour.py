"""Every kind of model a team ships takes the same road, served and loaded alike.

Per flavour: `mlgate run` twice (champion, then an equal challenger), `mlgate serve`
as a real process, a canary that the gateway's controller takes to promotion on
live traffic and labels, then the same rows answered by the gateway, by mlgate's
verified loader and by `mlflow.pyfunc.load_model`: the same labels everywhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.project import Project
from mlgate.registry.predictor import answer_name
from mlgate.registry.refs import load_ref
from mlgate.road.run import run
from mlgate.scaffold.example import write_example
from mlgate.training.preprocessing import prepare_features
from rollout.support import TOKEN, Gateway, start_gateway

FLAVOURS: dict[str, dict[str, Any]] = {
    "xgboost": {
        "estimator": "xgboost.XGBClassifier",
        "params": {"n_estimators": 40, "max_depth": 3},
    },
    "lightgbm": {
        "estimator": "lightgbm.LGBMClassifier",
        "params": {"n_estimators": 40, "num_leaves": 15, "verbose": -1},
    },
    "catboost": {
        "estimator": "catboost.CatBoostClassifier",
        "params": {"iterations": 40, "depth": 4},
    },
    "hist-gradient-boosting": {
        "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
        "params": {"max_iter": 40},
    },
    # a booster at the end of the team's own pipeline, itself inside the schema's
    "yaml-pipeline": {
        "estimator": "lightgbm.LGBMClassifier",
        "params": {"n_estimators": 40, "num_leaves": 15},
        "pipeline": [
            {"transformer": "sklearn.preprocessing.PolynomialFeatures", "params": {"degree": 2}},
            {"transformer": "sklearn.preprocessing.StandardScaler"},
        ],
    },
    "own-class": {
        "estimator": "scenario_models.ScaledLogit",
        "params": {"C": 0.5},
        # listed before the helper module it imports: the order does not matter
        "code": ["scenario_models.py", "scenario_helpers.py"],
    },
}

#: The flavour each scenario's model is saved in.
SAVED_AS = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost"} | {
    "yaml-pipeline": "lightgbm"
}

#: The team's own estimator of the "own-class" flavour, in the project's folder.
OWN_CLASS = """
from sklearn.base import BaseEstimator, ClassifierMixin

import scenario_helpers


class ScaledLogit(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.inner_ = scenario_helpers.logit(self.C).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X):
        return self.inner_.predict(X)

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)
"""

#: A module of the team's that the own class imports.
OWN_HELPERS = """
from sklearn.linear_model import LogisticRegression


def logit(C):
    return LogisticRegression(C=C, max_iter=1000)
"""

ROLLOUT = {
    "strategy": "canary",
    "steps": [50, 100],
    "interval": "1s",
    # the scikit-learn path of a version without ONNX is slower than ONNX Runtime:
    # latency is not what this test judges
    "analysis": {"min_requests": 20, "min_labels": 20, "max_p99_latency_ratio": 100},
}
TARGET = "default"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import mlflow

    for variable in ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL"):
        monkeypatch.delenv(variable, raising=False)
    yield
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def project_for(folder: Path, model: dict[str, Any]) -> Path:
    config = write_example(folder, rows=700)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["model"] = model | {"cv_folds": 0}
    doc["gates"] = {"min": {"accuracy": 0.6}, "max_regression": {"accuracy": 0.02}}
    doc["rollout"] = ROLLOUT
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    if model.get("code"):
        (folder / "scenario_models.py").write_text(OWN_CLASS, encoding="utf-8")
        (folder / "scenario_helpers.py").write_text(OWN_HELPERS, encoding="utf-8")
    return config


def rows_of(config: Path, count: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """The first `count` test rows as JSON objects, and their labels."""
    frame = pd.read_csv(config.parent / "data" / "test.csv").head(count)
    labels = frame.pop(TARGET).tolist()
    records = [
        {k: None if isinstance(v, float) and math.isnan(v) else _plain(v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    return records, labels


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def canary_to_promotion(gateway: Gateway, rows: list[dict[str, Any]], labels: list[Any]) -> None:
    """Start the canary, send labelled traffic until the controller ends it; promoted."""
    started = gateway.admin("POST", "/admin/rollout/start")
    assert started["rollout"]["status"] == "running", started
    deadline = time.monotonic() + 90
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        batch = 0
        while True:
            state = gateway.admin("GET", "/admin/rollout")["rollout"]["state"]
            if state["status"] != "running":
                break
            assert time.monotonic() < deadline, (state, gateway.log()[-3000:])
            feedback = []
            for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
                answer = client.post(
                    "/predict",
                    json={"instances": [row]},
                    headers={"x-mlgate-key": f"k{batch}-{i}"},
                )
                assert answer.status_code == 200, answer.text
                feedback.append({"request_id": answer.json()["request_id"], "label": label})
            sent = client.post("/feedback", json={"feedback": feedback})
            assert sent.status_code == 200, sent.text
            batch += 1
            time.sleep(0.3)
    assert state["status"] == "promoted", state.get("note")


def served(gateway: Gateway, rows: list[dict[str, Any]]) -> list[Any]:
    """The promoted version's answers, once the gateway's watcher has seen the promotion
    (it polls the state store; a loaded machine may take a few polls)."""
    deadline = time.monotonic() + 20
    while True:
        answer = httpx.post(f"{gateway.url}/predict", json={"instances": rows}, timeout=30)
        assert answer.status_code == 200, answer.text
        if answer.headers["x-mlgate-version"] == "2":
            return list(answer.json()["predictions"])
        assert time.monotonic() < deadline, "the gateway still serves version 1"
        time.sleep(0.2)


@pytest.mark.parametrize("flavour", list(FLAVOURS))
def test_a_flavour_takes_the_whole_road(flavour: str, tmp_path: Path, clean_env: None) -> None:
    import mlflow

    config_path = project_for(tmp_path / "project", FLAVOURS[flavour])
    config = load_config(config_path)
    first = run(config, register=True)
    assert first.passed, first.reasons
    assert first.registration is not None
    assert first.registration.alias == "champion"
    second = run(config, register=True)  # the same config again: an equal model
    assert second.passed, second.reasons
    assert second.registration is not None
    assert second.registration.alias == "challenger"

    rows, labels = rows_of(config_path, 60)
    gateway = start_gateway(config_path, env={"MLGATE_ADMIN_TOKEN": TOKEN})
    try:
        canary_to_promotion(gateway, rows, labels)
        from_gateway = served(gateway, rows)
    finally:
        gateway.stop()

    project = Project(config.base_dir, config=config)
    loaded = load_ref(f"models:/{config.name}@champion", catalog=project.catalog)
    frame = pd.DataFrame(rows)
    from_mlgate = np.asarray(loaded.model.predict(prepare_features(frame, loaded.card.kinds)))
    mlflow.set_tracking_uri(project.catalog.uri)
    mlflow.set_registry_uri(project.catalog.uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{config.name}@champion")
    numbers = frame.select_dtypes("number").columns
    answer = pyfunc.predict(frame.astype(dict.fromkeys(numbers, "float64")))
    from_mlflow = answer[answer_name(loaded.card.task)]

    assert loaded.card.flavour == SAVED_AS.get(flavour, "sklearn")
    assert from_mlgate.tolist() == from_gateway
    assert from_mlflow.tolist() == from_gateway
