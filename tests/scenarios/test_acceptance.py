"""Acceptance: mlgate reaches what plain scikit-learn reaches, and the whole road runs via the CLI.

scikit-learn's bundled breast-cancer data (569 rows, 30 numeric features) is written
to CSV with a fixed, stratified split. `mlgate run` then trains the same estimator
with the same params on the same rows with the same preprocessing (median impute,
standard scale) as a hand-written scikit-learn Pipeline.

Tolerance: none for RandomForestClassifier. The CSV round trip is exact (pandas
writes the shortest repr of each float, Arrow parses it back to the same double),
the forest's random_state is the same (mlgate passes its seed, 42, and the baseline
uses 42), so the forests are the same trees and the accuracies are equal.
LogisticRegression is allowed to differ by at most one of the 143 test rows: its
lbfgs solver sums in whatever order the BLAS library chooses, so a row that sits on
the decision boundary could in principle flip between two otherwise equal fits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.registry.bundle import load_bundle
from mlgate.training.preprocessing import prepare_features

SEED = 42


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """The breast-cancer data split 75/25 (stratified, seed 0) into train.csv and test.csv."""
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["target"])
    folder = tmp_path_factory.mktemp("cancer")
    frame.to_csv(folder / "all.csv", index=False)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder, train, test


def write_project(folder: Path, model: dict[str, Any]) -> Path:
    config = {
        "name": "cancer",
        "data": {"train": "train.csv", "test": "test.csv", "target": "target"},
        "schema": "schema.yaml",
        "model": model | {"preprocessing": "auto", "cv_folds": 0},
        "gates": {"min": {"accuracy": 0.9}},
    }
    path = folder / f"{model['estimator'].rsplit('.', 1)[-1]}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def baseline_accuracy(estimator: Any, train: pd.DataFrame, test: pd.DataFrame) -> float:
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), estimator)
    model.fit(train.drop(columns="target"), train["target"])
    return float(accuracy_score(test["target"], model.predict(test.drop(columns="target"))))


def mlgate_run(
    runner: CliRunner, config: Path, out: Path, *, register: bool = False
) -> dict[str, Any]:
    flags = [] if register else ["--no-register"]
    result = runner.invoke(app, ["run", *flags, "-c", str(config), "--json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


@pytest.fixture(scope="module")
def schema(cancer: tuple[Path, pd.DataFrame, pd.DataFrame]) -> Path:
    """`mlgate schema infer` on all the labelled data, before it is split."""
    folder = cancer[0]
    result = CliRunner().invoke(
        app, ["schema", "infer", str(folder / "all.csv"), "-o", str(folder / "schema.yaml")]
    )
    assert result.exit_code == 0, result.output
    return folder / "schema.yaml"


def test_random_forest_matches_scikit_learn_exactly(
    runner: CliRunner,
    cancer: tuple[Path, pd.DataFrame, pd.DataFrame],
    schema: Path,
    tmp_path: Path,
) -> None:
    folder, train, test = cancer
    params = {"n_estimators": 25, "max_depth": 6}
    config = write_project(
        folder, {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": params}
    )
    payload = mlgate_run(runner, config, tmp_path / "run")
    expected = baseline_accuracy(RandomForestClassifier(**params, random_state=SEED), train, test)
    assert payload["metrics"]["accuracy"] == expected
    assert expected > 0.9

    model, card = load_bundle(tmp_path / "run")
    reference = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        RandomForestClassifier(**params, random_state=SEED),
    ).fit(train.drop(columns="target"), train["target"])
    ours = model.predict(prepare_features(test, card.kinds))
    assert np.array_equal(ours, reference.predict(test.drop(columns="target")))


def test_logistic_regression_matches_scikit_learn_within_one_row(
    runner: CliRunner,
    cancer: tuple[Path, pd.DataFrame, pd.DataFrame],
    schema: Path,
    tmp_path: Path,
) -> None:
    folder, train, test = cancer
    config = write_project(
        folder,
        {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000}},
    )
    payload = mlgate_run(runner, config, tmp_path / "run")
    expected = baseline_accuracy(LogisticRegression(max_iter=1000), train, test)
    assert payload["metrics"]["accuracy"] == pytest.approx(expected, abs=1 / len(test))
    # Fitting warned of nothing; the one warning says the champion was not consulted.
    (warning,) = payload["warnings"]
    assert warning.startswith("not compared with the champion: a run that registers nothing")


def test_the_whole_road_through_the_cli(
    runner: CliRunner,
    cancer: tuple[Path, pd.DataFrame, pd.DataFrame],
    schema: Path,
    tmp_path: Path,
) -> None:
    """Integration: infer a schema, validate, train, run with gates, evaluate, reload the model."""
    folder, _, test = cancer
    config = write_project(
        folder,
        {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 10}},
    )

    validated = runner.invoke(app, ["validate", str(folder / "test.csv"), "-s", str(schema)])
    assert validated.exit_code == 0, validated.output

    trained = runner.invoke(app, ["train", "-c", str(config), "-q", "-o", str(tmp_path / "t")])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "t" / "model.skops").is_file()

    payload = mlgate_run(runner, config, tmp_path / "run", register=True)
    assert payload["passed"] is True
    assert payload["stage"] == "done"
    assert payload["registration"]["alias"] == "champion"
    assert payload["gates"]["checks"][0]["metric"] == "accuracy"

    evaluated = runner.invoke(
        app, ["evaluate", str(tmp_path / "run"), str(folder / "test.csv"), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["metrics"] == payload["metrics"]

    model, card = load_bundle(tmp_path / "run")
    predicted = model.predict(prepare_features(test, card.kinds))
    assert accuracy_score(test["target"], predicted) == payload["metrics"]["accuracy"]
