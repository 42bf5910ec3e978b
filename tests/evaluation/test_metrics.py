"""The metric registry, and that every metric equals scikit-learn's own on the same predictions."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from mlgate.errors import ConfigError
from mlgate.evaluation import metrics as registry
from mlgate.evaluation.evaluate import score
from mlgate.evaluation.metrics import Metric, available_metrics, get_metric, register_metric

CLASSIFICATION = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
]


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_the_registry_lists_each_task_s_metrics_in_order() -> None:
    assert available_metrics("classification") == CLASSIFICATION
    assert available_metrics("regression") == ["rmse", "mae", "r2"]
    assert get_metric("log_loss", "classification").greater_is_better is False
    assert get_metric("roc_auc", "classification").needs_proba is True


def test_an_unknown_metric_lists_the_ones_there_are() -> None:
    with pytest.raises(
        ConfigError,
        match=exact("unknown regression metric 'accuracy'. Allowed: rmse, mae, r2."),
    ):
        get_metric("accuracy", "regression")


def test_register_metric_adds_a_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def max_error(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
        return float(skm.max_error(y_true, y_pred))

    register_metric(Metric("max_error", "regression", max_error, greater_is_better=False))
    assert available_metrics("regression") == ["rmse", "mae", "r2", "max_error"]
    assert score("regression", [1.0, 2.0], [1.5, 4.0], None, None)["max_error"] == 2.0


def fitted_classifier(frame: pd.DataFrame) -> tuple[Any, Any, Any, Any, Any]:
    X, y = frame.drop(columns="label").select_dtypes("number"), frame["label"]
    model = RandomForestClassifier(n_estimators=8, max_depth=3, random_state=0)
    model.fit(X.iloc[:150], y.iloc[:150])
    test_X, test_y = X.iloc[150:], y.iloc[150:]
    return test_y, model.predict(test_X), model.predict_proba(test_X), model.classes_, model


def test_binary_metrics_with_string_labels_equal_scikit_learn(binary_frame: pd.DataFrame) -> None:
    y, pred, proba, classes, _ = fitted_classifier(binary_frame)
    assert list(classes) == ["no", "yes"]
    found = score("classification", y, pred, proba, classes)
    assert found == {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, average="weighted", zero_division=0),
        "recall": skm.recall_score(y, pred, average="weighted", zero_division=0),
        "f1": skm.f1_score(y, pred, average="weighted", zero_division=0),
        "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y == "yes", proba[:, 1]),
        "log_loss": skm.log_loss(y, proba),
    }


def test_multiclass_metrics_with_integer_labels_equal_scikit_learn(
    multiclass_frame: pd.DataFrame,
) -> None:
    y, pred, proba, classes, _ = fitted_classifier(multiclass_frame)
    assert list(classes) == [0, 1, 2]
    found = score("classification", y, pred, proba, classes)
    assert found["accuracy"] == skm.accuracy_score(y, pred)
    assert found["f1_macro"] == skm.f1_score(y, pred, average="macro")
    assert found["roc_auc"] == skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted")
    assert found["log_loss"] == skm.log_loss(y, proba)


def test_regression_metrics_equal_scikit_learn(diabetes_frame: pd.DataFrame) -> None:
    X, y = diabetes_frame.drop(columns="progression"), diabetes_frame["progression"]
    model = RandomForestRegressor(n_estimators=8, random_state=0).fit(X.iloc[:300], y.iloc[:300])
    test_y, pred = y.iloc[300:], model.predict(X.iloc[300:])
    assert score("regression", test_y, pred, None, None) == {
        "rmse": skm.root_mean_squared_error(test_y, pred),
        "mae": skm.mean_absolute_error(test_y, pred),
        "r2": skm.r2_score(test_y, pred),
    }


def test_probability_metrics_only_with_probabilities(binary_frame: pd.DataFrame) -> None:
    y, pred, _, classes, _ = fitted_classifier(binary_frame)
    found = score("classification", y, pred, None, classes)
    assert list(found) == CLASSIFICATION[:-2]


def test_undefined_metrics_are_none_not_nan() -> None:
    y = np.array(["yes", "yes", "yes"])
    proba = np.array([[0.2, 0.8], [0.4, 0.6], [0.1, 0.9]])
    found = score("classification", y, y, proba, np.array(["no", "yes"]))
    assert found["roc_auc"] is None
    assert found["accuracy"] == 1.0
    assert found["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=["no", "yes"]))
    assert score("regression", [3.0], [2.0], None, None)["r2"] is None
