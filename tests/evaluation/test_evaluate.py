"""Scoring a fitted model on held-out rows: metrics, slices, latency and refused labels."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC, LinearSVC

from mlgate.errors import DataError
from mlgate.evaluation.evaluate import evaluate_model, predict_rows, score
from mlgate.training.preprocessing import build_model, prepare_features

KINDS = {"x1": "numeric", "x2": "numeric", "count": "numeric", "colour": "categorical"}


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def trained(frame: pd.DataFrame, estimator: object) -> tuple[object, pd.DataFrame, pd.Series]:
    model = build_model(estimator, KINDS, "auto")
    X = prepare_features(frame, KINDS)
    model.fit(X.iloc[:160], frame["label"].iloc[:160])
    return model, X.iloc[160:], frame["label"].iloc[160:]


def test_evaluation_scores_the_model_and_times_it(binary_frame: pd.DataFrame) -> None:
    model, X, y = trained(binary_frame, RandomForestClassifier(n_estimators=5, random_state=0))
    result = evaluate_model(model, X, y, "classification")
    assert result.rows == 80
    assert result.task == "classification"
    assert result.metrics == score(
        "classification", y, model.predict(X), model.predict_proba(X), model.classes_
    )
    assert result.latency is not None
    assert result.latency.batch_rows == 80
    assert result.latency.single_row_ms > 0


def test_slices_give_the_metrics_of_each_value(binary_frame: pd.DataFrame) -> None:
    model, X, y = trained(binary_frame, RandomForestClassifier(n_estimators=5, random_state=0))
    slices = binary_frame.iloc[160:][["colour"]].copy()
    slices.iloc[:3, 0] = None
    result = evaluate_model(model, X, y, "classification", slices=slices, measure_latency=False)
    assert result.latency is None
    assert [s.value for s in result.slices] == ["(missing)", "blue", "green", "red"]
    assert sum(s.rows for s in result.slices) == 80
    red = next(s for s in result.slices if s.value == "red")
    mask = (slices["colour"] == "red").to_numpy()
    expected = score(
        "classification",
        y.to_numpy()[mask],
        model.predict(X)[mask],
        model.predict_proba(X)[mask],
        model.classes_,
    )
    assert (red.column, red.rows, red.metrics) == ("colour", int(mask.sum()), expected)


def test_a_model_without_probabilities_has_no_probability_metrics(
    binary_frame: pd.DataFrame,
) -> None:
    for estimator in (LinearSVC(), SVC()):
        model, X, y = trained(binary_frame, estimator)
        found = evaluate_model(model, X, y, "classification", measure_latency=False).metrics
        assert "roc_auc" not in found
        assert "log_loss" not in found
        assert found["accuracy"] > 0.6


def test_labels_the_model_never_saw_are_refused(binary_frame: pd.DataFrame) -> None:
    model, X, y = trained(binary_frame, RandomForestClassifier(n_estimators=5, random_state=0))
    y = y.copy()
    y.iloc[:2] = "maybe"
    with pytest.raises(
        DataError,
        match=exact(
            "the target holds label(s) the model never saw in training: 'maybe' (2 of 80 rows); "
            "it knows 'no', 'yes'. "
            "Evaluate on data labelled like the training data, or retrain with them."
        ),
    ):
        evaluate_model(model, X, y, "classification")


def test_regression_evaluation(diabetes_frame: pd.DataFrame) -> None:
    from sklearn.linear_model import Ridge

    features = [c for c in diabetes_frame.columns if c != "progression"]
    kinds = dict.fromkeys(features, "numeric")
    X, y = prepare_features(diabetes_frame, kinds), diabetes_frame["progression"]
    model = build_model(Ridge(alpha=0.1), kinds, "auto").fit(X.iloc[:350], y.iloc[:350])
    result = evaluate_model(model, X.iloc[350:], y.iloc[350:], "regression")
    assert list(result.metrics) == ["rmse", "mae", "r2"]
    residual = y.iloc[350:].to_numpy() - model.predict(X.iloc[350:])
    assert result.metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean(residual**2))))


def test_a_classifier_answering_a_column_gives_one_label_a_row(
    binary_frame: pd.DataFrame,
) -> None:
    # CatBoost's multiclass classifier answers predict() as a [rows, 1] column.
    catboost = pytest.importorskip("catboost")
    frame = binary_frame.assign(label=np.resize(["a", "b", "c"], len(binary_frame)))
    estimator = catboost.CatBoostClassifier(iterations=5, verbose=False, allow_writing_files=False)
    model, X, y = trained(frame, estimator)
    assert np.asarray(model.predict(X)).shape == (80, 1)
    labels = predict_rows(model, X)
    assert labels.tolist() == np.asarray(model.predict(X)).reshape(-1).tolist()
    slices = frame.iloc[160:][["colour"]]
    result = evaluate_model(model, X, y, "classification", slices=slices, measure_latency=False)
    assert result.metrics["accuracy"] == float(np.mean(labels == y.to_numpy()))
    assert sum(s.rows for s in result.slices) == 80
