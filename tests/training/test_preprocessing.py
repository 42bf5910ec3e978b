"""The preprocessing pipeline built from the schema: kinds, feature preparation, the Pipeline."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures

from mlgate.data.schema import ColumnSchema, Schema
from mlgate.errors import DataError
from mlgate.training.preprocessing import (
    build_model,
    feature_kinds,
    final_estimator,
    is_tree_ensemble,
    prepare_features,
)


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_kinds_come_from_the_schema_first_then_the_data() -> None:
    frame = pd.DataFrame(
        {"zip": [1001, 1002], "age": [30, 40], "flag": [True, False], "city": ["a", "b"]}
    )
    schema = Schema(columns={"zip": ColumnSchema(dtype="string")})
    kinds = feature_kinds(frame, ["zip", "age", "flag", "city"], schema)
    assert kinds == {
        "zip": "categorical",
        "age": "numeric",
        "flag": "categorical",
        "city": "categorical",
    }


def test_dates_are_refused_with_a_fix() -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    with pytest.raises(
        DataError,
        match=exact(
            "feature 'when' holds dates, which models cannot take as they are. "
            "Derive numbers from it in your data, or list 'when' under data.drop."
        ),
    ):
        feature_kinds(frame, ["when"], Schema(columns={}))


def test_prepare_features_orders_and_types_the_columns() -> None:
    frame = pd.DataFrame(
        {"label": [1, 0, 1], "n": [1, None, 3], "c": [1.5, None, 2.0], "b": [True, False, None]}
    )
    prepared = prepare_features(frame, {"c": "categorical", "n": "numeric", "b": "categorical"})
    assert list(prepared.columns) == ["c", "n", "b"]
    assert prepared["n"].dtype == np.float64
    assert prepared["c"].iloc[0] == "1.5"
    assert prepared["c"].iloc[1] == "(missing)"  # a category of its own, for ONNX
    assert prepared["b"].tolist()[:2] == ["True", "False"]


def test_text_in_a_numeric_column_is_refused_not_made_missing() -> None:
    frame = pd.DataFrame({"n": ["1.0", "oops", "3", None, "n/a"], "m": [1, 2, 3, 4, 5]})
    with pytest.raises(
        DataError,
        match=exact(
            "data.csv: numeric feature column(s) hold values that are not numbers: "
            "'n' (2 value(s), e.g. 'oops', 'n/a'). "
            "Fix those values, or declare the column `dtype: string` in the schema."
        ),
    ):
        prepare_features(frame, {"n": "numeric", "m": "numeric"}, source="data.csv")


def test_the_pipeline_imputes_scales_and_one_hot_encodes() -> None:
    kinds = {"n": "numeric", "c": "categorical"}
    X = prepare_features(
        pd.DataFrame({"n": [1.0, None, 3.0, 4.0], "c": ["a", None, "b", "a"]}), kinds
    )
    y = np.array([0, 1, 0, 1])
    model = build_model(LogisticRegression(), kinds, "auto")
    assert isinstance(model, Pipeline)
    assert isinstance(model.steps[0][1], ColumnTransformer)
    model.fit(X, y)
    encoded = model[:-1].transform(X)
    assert encoded.shape == (4, 1 + 3)  # n, then a / b / (missing)
    names = list(model[:-1].get_feature_names_out())
    # a missing c is the category "(missing)", sorted first by the encoder
    assert names == [
        "numeric__n",
        "categorical__c_(missing)",
        "categorical__c_a",
        "categorical__c_b",
    ]
    assert encoded[1, 1:].tolist() == [1.0, 0.0, 0.0]
    assert encoded[1, 0] == pytest.approx(encoded[2, 0])  # missing n became the median, 3
    unseen = pd.DataFrame({"n": [2.0], "c": ["never seen"]})
    assert model.predict(unseen).shape == (1,)


def test_preprocessing_none_passes_features_straight_to_the_estimator() -> None:
    model = build_model(LogisticRegression(), {"n": "numeric"}, "none")
    assert [name for name, _ in model.steps] == ["model"]


class OwnForest(RandomForestClassifier):
    """A team's subclass of a scikit-learn forest: still trees."""


@pytest.mark.parametrize(
    ("estimator", "trees"),
    [
        (HistGradientBoostingClassifier(), True),
        (OwnForest(), True),
        (Pipeline([("poly", PolynomialFeatures()), ("estimator", RandomForestClassifier())]), True),
        (Pipeline([("poly", PolynomialFeatures()), ("estimator", LogisticRegression())]), False),
        (LogisticRegression(), False),
    ],
    ids=["hist-gradient-boosting", "subclass", "yaml-pipeline-of-trees", "yaml-pipeline", "linear"],
)
def test_auto_scales_numbers_only_for_models_without_trees(estimator: object, trees: bool) -> None:
    """Trees are blind to scale, and ONNX Runtime scales in float32: a value sitting on a
    threshold would take the other branch. A pipeline from model.pipeline is judged by
    the estimator it ends in."""
    assert is_tree_ensemble(estimator) is trees
    assert final_estimator(Pipeline([("front", "passthrough"), ("model", estimator)])) is (
        estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    )
    numeric = build_model(estimator, {"n": "numeric"}, "auto").steps[0][1].transformers[0][1]
    assert [name for name, _ in numeric.steps] == (["impute"] if trees else ["impute", "scale"])
