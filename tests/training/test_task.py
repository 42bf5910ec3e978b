"""Classification or regression: from the labels, the estimator, or `task:` in the config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from mlgate.config.loader import load_config
from mlgate.errors import ConfigError
from mlgate.road.run import run
from mlgate.training.task import MAX_INTEGER_CLASSES, estimator_task, infer_task


@pytest.mark.parametrize(
    ("labels", "task"),
    [
        (["yes", "no", "yes", None], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 1, 0], "classification"),
        ([1, 2, 3, 4, 5, 3], "classification"),
        ([0.0, 1.0, 1.0, np.nan], "classification"),
        (list(range(MAX_INTEGER_CLASSES)), "classification"),
        (list(range(MAX_INTEGER_CLASSES + 1)), "regression"),
        ([0.5, 1.25, 3.0], "regression"),
        ([151.0, 75.0, 141.0, 206.5], "regression"),
    ],
)
def test_infer_task_from_the_labels(labels: list[Any], task: str) -> None:
    assert infer_task(pd.Series(labels)) == task


def test_estimators_declare_their_task() -> None:
    assert estimator_task(LogisticRegression()) == "classification"
    assert estimator_task(RandomForestRegressor()) == "regression"
    assert estimator_task(KMeans()) is None


MEAN_MODEL = """\
import numpy as np
from sklearn.base import BaseEstimator


class MeanModel(BaseEstimator):
    '''Predicts the mean target; declares no task, so the labels or the config decide.'''

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)
"""


@pytest.fixture
def mean_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    (tmp_path / "mean_models.py").write_text(MEAN_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    return {"estimator": "mean_models.MeanModel", "cv_folds": 0}


def test_task_in_the_config_overrides_the_labels(
    new_project: Any, multiclass_frame: pd.DataFrame, mean_model: dict[str, Any], tmp_path: Path
) -> None:
    config = load_config(new_project(multiclass_frame, model=mean_model, task="regression"))
    result = run(config, output=tmp_path / "out")
    assert result.task == "regression"
    assert list(result.metrics) == ["rmse", "mae", "r2"]
    card = json.loads((tmp_path / "out" / "model.json").read_text())
    assert (card["task"], card["classes"]) == ("regression", None)


def test_the_estimator_decides_when_task_is_auto(
    new_project: Any, multiclass_frame: pd.DataFrame, tmp_path: Path
) -> None:
    forest = {"estimator": "sklearn.ensemble.RandomForestRegressor", "params": {"n_estimators": 5}}
    config = load_config(new_project(multiclass_frame, model=forest | {"cv_folds": 0}))
    assert run(config, output=tmp_path / "out").task == "regression"


def test_a_task_the_estimator_contradicts_is_a_config_error(
    new_project: Any, binary_frame: pd.DataFrame
) -> None:
    path = new_project(binary_frame, task="regression")
    with pytest.raises(
        ConfigError,
        match=(
            rf"^{path}: task: sklearn\.ensemble\.RandomForestClassifier is a classifier, but the "
            r"config says task: regression\. Set task: classification \(or auto\), or choose a "
            r"regressor\.$"
        ),
    ):
        run(load_config(path))


def test_a_classifier_on_many_distinct_numbers_is_refused_unless_asked_for(
    new_project: Any, binary_frame: pd.DataFrame
) -> None:
    continuous = binary_frame.assign(label=(binary_frame["x1"] * 100).round(2))
    path = new_project(continuous)
    distinct = continuous["label"].nunique()
    with pytest.raises(
        ConfigError,
        match=(
            rf"^{path}: model\.estimator: sklearn\.ensemble\.RandomForestClassifier is a "
            rf"classifier, but target column 'label' holds {distinct} distinct numbers, as a "
            r"regression target does; each would become a class of its own\. Choose a "
            r"regressor, or set task: classification if the numbers really are class labels\.$"
        ),
    ):
        run(load_config(path))
