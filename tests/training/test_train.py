"""Targets, the hold-out split, cross-validation and the fit itself."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from mlgate.config.models import SplitConfig
from mlgate.errors import DataError, TrainingError
from mlgate.training.preprocessing import build_model
from mlgate.training.train import check_target, cross_validate, fit, split_holdout


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_a_target_that_is_not_in_the_data() -> None:
    frame = pd.DataFrame({"a": [1, 2], "outcome": [0, 1]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' is not in the data. "
            "Set data.target to one of: a, outcome."
        ),
    ):
        check_target(frame, "label", None, source="train.csv")


def test_a_target_name_near_a_column_s_is_suggested() -> None:
    frame = pd.DataFrame({"a": [1, 2], "outcome": [0, 1]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'outcomes' is not in the data. Did you mean "
            "'outcome'? Set data.target to one of: a, outcome."
        ),
    ):
        check_target(frame, "outcomes", None, source="train.csv")


def test_a_target_without_values() -> None:
    frame = pd.DataFrame({"a": [1, 2], "label": [None, None]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' has no values. "
            "Label the rows, or set data.target to the column that holds the labels."
        ),
    ):
        check_target(frame, "label", None, source="train.csv")


def test_a_target_missing_in_some_rows() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "label": ["x", None, "y"]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' is missing in 1 of 3 row(s). "
            "Remove or label those rows, or set data.drop_missing_target: true in mlgate.yaml "
            "to leave them out (counted in the run's result)."
        ),
    ):
        check_target(frame, "label", "classification", source="train.csv")


def test_a_single_class_cannot_train_a_classifier() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "label": ["yes"] * 3})
    check_target(frame, "label", None, source="train.csv")
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' has a single class ('yes') in all 3 rows; "
            "a classifier needs at least two. "
            "Add rows of another class, or check that data.target names the label."
        ),
    ):
        check_target(frame, "label", "classification", source="train.csv")


def test_continuous_labels_cannot_train_a_classifier() -> None:
    frame = pd.DataFrame({"label": [1.0, 2.5, 3.0]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' holds continuous values (e.g. 2.5), which a "
            "classifier cannot learn. Set task: regression and use a regressor."
        ),
    ):
        check_target(frame, "label", "classification", source="train.csv")


def test_text_labels_cannot_train_a_regressor() -> None:
    frame = pd.DataFrame({"label": ["low", "high"]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' holds text values (e.g. 'low'), which a regressor "
            "cannot learn. Use a classifier (or task: classification), "
            "or set data.target to a numeric column."
        ),
    ):
        check_target(frame, "label", "regression", source="train.csv")


def test_the_holdout_split_is_stratified_and_repeatable(binary_frame: pd.DataFrame) -> None:
    split = SplitConfig(test_size=0.25, seed=3)
    train, test = split_holdout(binary_frame, "label", split, "classification")
    again_train, again_test = split_holdout(binary_frame, "label", split, "classification")
    assert (len(train), len(test)) == (180, 60)
    assert test.index.equals(again_test.index)
    assert train.index.equals(again_train.index)
    share = binary_frame["label"].value_counts(normalize=True)
    assert test["label"].value_counts(normalize=True)["yes"] == pytest.approx(
        share["yes"], abs=1 / 60
    )


def test_a_class_of_one_row_cannot_be_stratified() -> None:
    frame = pd.DataFrame({"x": range(10), "label": ["a"] * 9 + ["b"]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: class 'b' of target 'label' has a single row, too few to hold out a "
            "stratified test set. Add rows of that class, or set data.split.stratify: false."
        ),
    ):
        split_holdout(frame, "label", SplitConfig(), "classification", source="train.csv")


def test_cross_validation_is_repeatable_for_a_seed(binary_frame: pd.DataFrame) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = binary_frame[["x1", "x2", "count"]], binary_frame["label"]
    model = build_model(
        RandomForestClassifier(n_estimators=5, random_state=0),
        {"x1": "numeric", "x2": "numeric", "count": "numeric"},
        "auto",
    )
    first = cross_validate(model, X, y, "classification", folds=3, seed=1)
    second = cross_validate(model, X, y, "classification", folds=3, seed=1)
    assert [cv.metric for cv in first] == ["accuracy", "f1"]
    assert first == second
    assert first[0].folds == 3
    assert len(first[0].scores) == 3
    assert first[0].mean == pytest.approx(np.mean(first[0].scores))


def test_cross_validation_refuses_more_folds_than_the_smallest_class() -> None:
    X = pd.DataFrame({"x": np.arange(12.0)})
    y = pd.Series(["a"] * 10 + ["b"] * 2)
    with pytest.raises(
        DataError,
        match=exact(
            "the smallest class has 2 row(s), fewer than model.cv_folds=5. "
            "Set model.cv_folds to at most 2 (or 0 to skip)."
        ),
    ):
        cross_validate(
            build_model(LinearRegression(), {"x": "numeric"}, "none"),
            X,
            y,
            "classification",
            folds=5,
            seed=0,
        )


def test_regression_cross_validation_reports_rmse_and_r2(diabetes_frame: pd.DataFrame) -> None:
    X, y = diabetes_frame.drop(columns="progression"), diabetes_frame["progression"]
    kinds = dict.fromkeys(X.columns, "numeric")
    found = cross_validate(
        build_model(LinearRegression(), kinds, "auto"), X, y, "regression", folds=3, seed=0
    )
    assert [cv.metric for cv in found] == ["rmse", "r2"]
    assert 0.3 < found[1].mean < 0.7


def test_a_failed_fit_is_a_training_error_naming_the_estimator() -> None:
    X = pd.DataFrame({"x": ["a", "b", "c"]})
    model = build_model(LinearRegression(), {"x": "categorical"}, "none")
    with pytest.raises(
        TrainingError,
        match=exact(
            "LinearRegression failed to fit on 3 rows: could not convert string to float: 'a'"
        ),
    ):
        fit(model, X, pd.Series([1.0, 2.0, 3.0]))


def test_fit_returns_the_seconds_it_took() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    model = build_model(LinearRegression(), {"x": "numeric"}, "auto")
    seconds = fit(model, X, pd.Series([1.0, 2.0, 3.0]))
    assert seconds > 0
    assert model.predict(X) == pytest.approx([1.0, 2.0, 3.0])
