"""ONNX export: kept only when ONNX Runtime predicts what scikit-learn does, and said why not."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge

from mlgate.config.loader import load_config
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.onnx import export_onnx, onnx_feed, same_labels
from mlgate.road._fit import onnx_warning
from mlgate.road.run import run
from mlgate.training.preprocessing import build_model, prepare_features

KINDS = {"x1": "numeric", "x2": "numeric", "colour": "categorical", "size": "categorical"}


class MajorityOfTheFirstLabels(ClassifierMixin, BaseEstimator):
    """A classifier skl2onnx has never heard of."""

    def fit(self, X: Any, y: Any) -> MajorityOfTheFirstLabels:
        self.classes_ = np.unique(y)
        self.label_ = pd.Series(y[:10]).mode()[0]
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.label_)


@pytest.fixture
def rows() -> pd.DataFrame:
    """300 rows, numbers and categories, about a tenth missing in each feature column."""
    rng = np.random.default_rng(7)
    n = 300
    frame = pd.DataFrame(
        {
            "x1": rng.normal(0, 1, n).round(3),
            "x2": rng.normal(5, 2, n).round(3),
            "colour": rng.choice(["red", "green", "blue"], n).astype(object),
            "size": rng.choice(["S", "M", "L"], n).astype(object),
        }
    )
    signal = frame["x1"] + 0.5 * (frame["x2"] - 5) + 0.8 * (frame["colour"] == "red")
    frame["label"] = np.where(signal + rng.normal(0, 0.3, n) > 0.3, "yes", "no")
    for column in KINDS:
        frame.loc[rng.random(n) < 0.1, column] = None
    return frame


def onnx_labels(path: Path, X: pd.DataFrame) -> np.ndarray[Any, Any]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, onnx_feed(X, KINDS))[0]).reshape(-1)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=8, random_state=0),
        LogisticRegression(),
        HistGradientBoostingClassifier(max_iter=20, random_state=0),
    ],
    ids=["forest", "logistic", "hist-gradient-boosting"],
)
def test_classifiers_with_missing_numbers_and_categories_export_and_agree(
    rows: pd.DataFrame, estimator: Any, tmp_path: Path
) -> None:
    train, test = rows.iloc[:200], rows.iloc[200:]
    assert test[list(KINDS)].isna().any().all()
    model = build_model(estimator, KINDS, "auto")
    model.fit(prepare_features(train, KINDS), train["label"])
    X_test = prepare_features(test, KINDS)
    exported = export_onnx(model, KINDS, "classification", X_test, tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    assert exported.reason == "predictions equal to the model's on every test row"
    assert exported.rows_checked == 100
    assert exported.max_probability_difference is not None
    assert exported.max_probability_difference < 1e-4
    assert exported.artifact.sha256 == sha256_file(tmp_path / "model.onnx")
    assert exported.artifact.size_bytes == (tmp_path / "model.onnx").stat().st_size
    assert list(onnx_labels(tmp_path / "model.onnx", X_test)) == list(model.predict(X_test))


def test_a_model_without_preprocessing_exports_with_one_input_per_column(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    numeric = {"x1": "numeric", "x2": "numeric"}
    data = rows.dropna(subset=list(numeric))
    model = build_model(RandomForestClassifier(n_estimators=8, random_state=0), numeric, "none")
    X = prepare_features(data, numeric)
    model.fit(X, data["label"])
    exported = export_onnx(model, numeric, "classification", X, tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x1", "x2"]
    labels = session.run(None, onnx_feed(X, numeric))[0].reshape(-1)
    assert list(labels) == list(model.predict(X))


def test_labels_may_differ_only_where_two_classes_tie(tmp_path: Path) -> None:
    """A forest of 20 trees split 10/10 on a row: ONNX's float32 sums break that tie
    by rounding, scikit-learn by class order. Either label is the model's answer."""
    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d"]
    frame = pd.DataFrame(rng.normal(0, 1, (600, 4)), columns=names)
    frame["label"] = np.where(frame["a"] + frame["b"] + rng.normal(0, 0.5, 600) > 0, "yes", "no")
    kinds = dict.fromkeys(names, "numeric")
    model = build_model(RandomForestClassifier(n_estimators=20, random_state=0), kinds, "auto")
    model.fit(prepare_features(frame.iloc[:300], kinds), frame["label"].iloc[:300])
    X = prepare_features(frame.iloc[300:], kinds)
    exported = export_onnx(model, kinds, "classification", X, tmp_path / "model.onnx")
    assert exported.artifact is not None
    assert exported.reason == (
        "predictions equal to the model's on every test row but 1 where two classes tie "
        "(equal probabilities: the label is either)"
    )
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    labels = session.run(None, onnx_feed(X, kinds))[0].reshape(-1)
    differ = labels != model.predict(X)
    assert differ.sum() == 1
    assert list(model.predict_proba(X)[differ][0]) == [0.5, 0.5]


def test_a_linear_regressor_exports_within_the_tolerance(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    model = build_model(Ridge(), KINDS, "auto")
    X = prepare_features(rows, KINDS)
    model.fit(X, rows["x2"].fillna(5) * 3 + 10)
    exported = export_onnx(model, KINDS, "regression", X, tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    assert np.allclose(onnx_labels(tmp_path / "model.onnx", X), model.predict(X), rtol=1e-4)


def test_an_export_that_predicts_otherwise_is_not_kept(rows: pd.DataFrame, tmp_path: Path) -> None:
    """ONNX scales in float32: HistGradientBoosting's thresholds are data values, so the
    rows it was fitted on land on the other side of a split when scaled first."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    numeric = {name: kind for name, kind in KINDS.items() if kind == "numeric"}
    X = prepare_features(rows, numeric).fillna(0.0)
    model = make_pipeline(StandardScaler(), HistGradientBoostingRegressor(max_iter=20))
    model.fit(X, X["x1"] * 3 + X["x2"])
    exported = export_onnx(model, numeric, "regression", X, tmp_path / "model.onnx")
    assert exported.artifact is None
    assert re.fullmatch(
        r"ONNX outputs differ on \d+ of 300 test rows, by up to \d\.\d\de-0\d \(relative; "
        r"0\.0001 allowed\); at most 0\.5% of rows may",
        exported.reason,
    ), exported.reason
    assert exported.rows_checked == 300
    assert not (tmp_path / "model.onnx").exists()


def test_hist_gradient_boosting_regressors_export_and_agree(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    train, test = rows.iloc[:200], rows.iloc[200:]
    model = build_model(HistGradientBoostingRegressor(max_iter=20), KINDS, "auto")
    model.fit(prepare_features(train, KINDS), train["x1"].fillna(0) * 3)
    exported = export_onnx(
        model, KINDS, "regression", prepare_features(test, KINDS), tmp_path / "model.onnx"
    )
    assert exported.artifact is not None, exported.reason
    assert exported.reason == "predictions equal to the model's on every test row"


def test_float_labels_are_compared_as_values(rows: pd.DataFrame, tmp_path: Path) -> None:
    # ONNX Runtime answers the class 1.0 as the integer 1: the same label.
    train, test = rows.iloc[:200], rows.iloc[200:]
    model = build_model(RandomForestClassifier(n_estimators=8, random_state=0), KINDS, "auto")
    model.fit(prepare_features(train, KINDS), (train["label"] == train["label"].iloc[0]) * 1.0)
    X_test = prepare_features(test, KINDS)
    exported = export_onnx(model, KINDS, "classification", X_test, tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    assert exported.differing_rows == 0
    assert same_labels(onnx_labels(tmp_path / "model.onnx", X_test), model.predict(X_test)).all()
    assert not same_labels(np.asarray(["1"]), np.asarray([1.0])).any()  # text is not a number


def test_rows_within_the_allowed_share_are_counted_not_hidden(
    rows: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlgate.registry import onnx

    monkeypatch.setattr(onnx, "MAX_DIFFERING_SHARE", 1.0)  # any share: see it counted
    numeric = {name: kind for name, kind in KINDS.items() if kind == "numeric"}
    X = prepare_features(rows, numeric).fillna(0.0)
    model = make_pipeline(StandardScaler(), HistGradientBoostingRegressor(max_iter=20))
    model.fit(X, X["x1"] * 3 + X["x2"])
    exported = export_onnx(model, numeric, "regression", X, tmp_path / "model.onnx")
    assert exported.artifact is not None
    assert exported.differing_rows > 0
    assert exported.reason == (
        f"outputs within 0.0001 (relative) of the model's on {300 - exported.differing_rows} "
        f"of 300 test rows; {exported.differing_rows} differ where a feature sits within "
        "float32 rounding of a tree threshold (at most 100.0% may)"
    )
    assert onnx_warning(exported) == [
        f"the ONNX export answers {exported.differing_rows} of 300 test rows otherwise than "
        "the model (a feature within float32 rounding of a tree threshold); the gateway "
        "serves those rows as ONNX Runtime answers them"
    ]


def test_the_cost_of_no_export_is_measured_and_said(rows: pd.DataFrame, tmp_path: Path) -> None:
    model = build_model(MajorityOfTheFirstLabels(), KINDS, "auto")
    model.fit(prepare_features(rows, KINDS), rows["label"])
    exported = export_onnx(
        model, KINDS, "classification", prepare_features(rows, KINDS), tmp_path / "model.onnx"
    )
    assert exported.model_ms is not None
    assert exported.model_ms > 0
    (warning,) = onnx_warning(exported)
    assert re.fullmatch(
        r"no ONNX export \(not convertible: .*\): the gateway will serve this version with "
        r"its own library at \d+\.\d\d ms a row \(median, measured\), where ONNX Runtime "
        r"answers in well under 0\.1 ms, and a rollout compares its latency with the "
        r"champion's",
        warning,
    ), warning


def test_an_estimator_without_a_converter_is_kept_without_onnx(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    model = build_model(MajorityOfTheFirstLabels(), KINDS, "auto")
    model.fit(prepare_features(rows, KINDS), rows["label"])
    exported = export_onnx(
        model, KINDS, "classification", prepare_features(rows, KINDS), tmp_path / "model.onnx"
    )
    assert exported.artifact is None
    assert exported.reason == (
        "not convertible: Unable to find a shape calculator for type "
        f"'{MajorityOfTheFirstLabels!r}'."
    )
    assert not (tmp_path / "model.onnx").exists()


def test_without_rows_to_check_there_is_no_export(rows: pd.DataFrame, tmp_path: Path) -> None:
    model = build_model(LogisticRegression(), KINDS, "auto")
    model.fit(prepare_features(rows, KINDS), rows["label"])
    exported = export_onnx(
        model, KINDS, "classification", prepare_features(rows.iloc[:0], KINDS), tmp_path / "m"
    )
    assert (exported.artifact, exported.reason) == (
        None,
        "not exported: no rows to check the export's predictions on",
    )
    assert not (tmp_path / "m").exists()


# --- through the road: the card records the export, or why there is none ----------------


def test_a_run_records_the_onnx_digest_in_the_card(
    rows: pd.DataFrame, new_project: Callable[..., Path], tmp_path: Path
) -> None:
    config = new_project(rows.iloc[:200], test=rows.iloc[200:])
    result = run(load_config(config), output=tmp_path / "out", apply_gates=False)
    card = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    assert card["onnx"] == {
        "path": "model.onnx",
        "sha256": sha256_file(tmp_path / "out" / "model.onnx"),
        "size_bytes": (tmp_path / "out" / "model.onnx").stat().st_size,
    }
    assert card["onnx_note"] == "predictions equal to the model's on every test row"
    assert result.files["onnx"] == str(tmp_path / "out" / "model.onnx")


def test_a_run_of_a_model_without_a_converter_says_why_in_the_card(
    rows: pd.DataFrame, new_project: Callable[..., Path], tmp_path: Path
) -> None:
    config = new_project(
        rows.iloc[:200],
        test=rows.iloc[200:],
        model={"estimator": "sklearn.dummy.DummyClassifier", "cv_folds": 0},
    )
    result = run(load_config(config), output=tmp_path / "out", apply_gates=False)
    card = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    assert card["onnx"] is None
    assert card["onnx_note"] == (
        "not convertible: Unable to find a shape calculator for type "
        "'<class 'sklearn.dummy.DummyClassifier'>'."
    )
    assert not (tmp_path / "out" / "model.onnx").exists()
    assert "onnx" not in result.files
    assert (tmp_path / "out" / "model.skops").exists()  # the model itself is kept


def boosted() -> list[Any]:
    import lightgbm

    return [
        pytest.param(lightgbm.LGBMClassifier(n_estimators=20, verbose=-1), id="lgbm"),
        pytest.param(lightgbm.LGBMRegressor(n_estimators=20, verbose=-1), id="lgbm-regressor"),
    ]


@pytest.mark.parametrize("estimator", boosted())
def test_lightgbm_exports_through_the_onnxmltools_converters_and_agrees(
    rows: pd.DataFrame, estimator: Any, tmp_path: Path
) -> None:
    task = "classification" if hasattr(estimator, "predict_proba") else "regression"
    y = rows["label"] if task == "classification" else rows["x2"].fillna(5.0)
    model = build_model(estimator, KINDS, "auto")
    X = prepare_features(rows, KINDS)
    model.fit(X.iloc[:200], y.iloc[:200])
    exported = export_onnx(model, KINDS, task, X.iloc[200:], tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    assert exported.reason == "predictions equal to the model's on every test row"
    labels = onnx_labels(tmp_path / "model.onnx", X.iloc[200:])
    expected = model.predict(X.iloc[200:])
    if task == "classification":
        assert list(labels) == list(expected)
    else:
        assert np.allclose(labels, expected, rtol=1e-5)


def test_an_xgboost_export_is_kept_only_when_it_agrees(rows: pd.DataFrame, tmp_path: Path) -> None:
    import xgboost

    # XGBoost compares float32 inputs with its thresholds; ONNX's float32 scaling may put
    # a row on the other side of one, and then the export is refused, saying so.
    model = build_model(xgboost.XGBClassifier(n_estimators=20), KINDS, "auto")
    X = prepare_features(rows, KINDS)
    model.fit(X.iloc[:200], (rows["label"].iloc[:200] == "yes").astype(int))
    exported = export_onnx(model, KINDS, "classification", X.iloc[200:], tmp_path / "m.onnx")
    if exported.artifact is None:
        assert re.fullmatch(r"ONNX labels differ on \d+ of 100 test rows", exported.reason)
    else:
        labels = onnx_labels(tmp_path / "m.onnx", X.iloc[200:])
        assert list(labels) == list(model.predict(X.iloc[200:]))
