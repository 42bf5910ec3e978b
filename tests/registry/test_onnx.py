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
from mlgate.config.models import ModelConfig
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.onnx import export_onnx, onnx_feed
from mlgate.road._fit import onnx_warning
from mlgate.road.run import run
from mlgate.training.estimator import resolve_estimator
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


def test_columns_named_with_dots_and_spaces_are_the_exports_inputs(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    # skl2onnx makes such names identifiers; the export's inputs keep the columns' names.
    names = {"x1": "claim.amount", "x2": "policy age", "colour": "colour", "size": "size"}
    kinds = {names[c]: k for c, k in KINDS.items()}
    data = rows.rename(columns=names)
    model = build_model(RandomForestClassifier(n_estimators=8, random_state=0), kinds, "auto")
    model.fit(prepare_features(data, kinds), data["label"])
    X = prepare_features(data, kinds)
    exported = export_onnx(model, kinds, "classification", X, tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(kinds)
    labels = session.run(None, onnx_feed(X, kinds))[0].reshape(-1)
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


def test_a_tree_model_refused_after_scaling_is_told_to_drop_the_scaler(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    """ONNX scales in float32: HistGradientBoosting's thresholds are data values (these
    repeat, at three decimals), so rows sitting on one land on the other side of it."""
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
        r"0\.0001 allowed\); a tree model's export may differ on at most 0\.5% of rows "
        r"\(float32 threshold flips\); StandardScaler in front of the trees computes in "
        r"float32 under ONNX Runtime, which moves rows that sit on a threshold across it \(a "
        r"tree model needs no scaling: without such steps the export keeps to the model's "
        r"answers\)",
        exported.reason,
    ), exported.reason
    assert exported.differing_rows > 0.005 * 300
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


#: model.pipeline steps, as YAML gives them: steps that fill in or select values give
#: ONNX Runtime the float32 of what they give the model, so every estimator agrees.
EXACT_STEPS = [
    {"transformer": "sklearn.impute.SimpleImputer", "params": {"strategy": "mean"}},
    {"transformer": "sklearn.feature_selection.VarianceThreshold"},
]
#: Steps that compute: HistGradientBoosting compares the float32 ONNX computes with
#: thresholds between distinct values, so it agrees here too.
COMPUTING_STEPS = [
    {"transformer": "sklearn.impute.SimpleImputer"},
    {"transformer": "sklearn.preprocessing.StandardScaler"},
    {"transformer": "sklearn.preprocessing.PolynomialFeatures", "params": {"degree": 2}},
]


@pytest.mark.parametrize(
    ("estimator", "params", "steps"),
    [
        ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 20}, EXACT_STEPS),
        ("sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": 20}, EXACT_STEPS),
        ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": 20}, COMPUTING_STEPS),
        ("sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": 20}, COMPUTING_STEPS),
        ("xgboost.XGBClassifier", {"n_estimators": 20}, EXACT_STEPS),
        ("xgboost.XGBRegressor", {"n_estimators": 20}, EXACT_STEPS),
        ("lightgbm.LGBMClassifier", {"n_estimators": 20, "verbose": -1}, EXACT_STEPS),
        ("lightgbm.LGBMRegressor", {"n_estimators": 20, "verbose": -1}, EXACT_STEPS),
        ("catboost.CatBoostClassifier", {"iterations": 20}, EXACT_STEPS),
        ("catboost.CatBoostRegressor", {"iterations": 20}, EXACT_STEPS),
    ],
    ids=lambda v: v.rpartition(".")[2] if isinstance(v, str) else "",
)
def test_a_yaml_pipeline_with_the_projects_preprocessing_in_front_exports_and_agrees(
    rows: pd.DataFrame,
    estimator: str,
    params: dict[str, Any],
    steps: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """The estimator sits in the pipeline model.pipeline builds, inside the one that
    holds the project's preprocessing: its converter, options and repairs reach it."""
    config = ModelConfig.model_validate(
        {"estimator": estimator, "params": params, "pipeline": steps}
    )
    task = "classification" if "Classifier" in estimator else "regression"
    y = (rows["label"] == "yes") * 1 if task == "classification" else rows["x1"].fillna(0) * 3
    model = build_model(resolve_estimator(config, seed=0), KINDS, "auto")
    assert "scale" not in model.steps[0][1].transformers[0][1].named_steps  # a tree model
    X = prepare_features(rows, KINDS)
    model.fit(X.iloc[:200], y.iloc[:200])
    exported = export_onnx(model, KINDS, task, X.iloc[200:], tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    assert exported.reason == "predictions equal to the model's on every test row"
    assert exported.onnx_ms is not None
    assert exported.model_ms is None  # served by ONNX Runtime: the model is not timed
    got = onnx_labels(tmp_path / "model.onnx", X.iloc[200:])
    expected = model.predict(X.iloc[200:])
    if task == "classification":
        assert got.tolist() == expected.tolist()
    else:
        assert np.allclose(got, expected, rtol=1e-5)


def test_the_cost_of_no_export_is_measured_and_said(rows: pd.DataFrame, tmp_path: Path) -> None:
    model = build_model(MajorityOfTheFirstLabels(), KINDS, "auto")
    model.fit(prepare_features(rows, KINDS), rows["label"])
    exported = export_onnx(
        model, KINDS, "classification", prepare_features(rows, KINDS), tmp_path / "model.onnx"
    )
    assert exported.model_ms is not None
    assert exported.model_ms > 0
    assert exported.onnx_ms is None  # nothing converted, nothing to time
    assert exported.timed_rows == 30
    (warning,) = onnx_warning(exported)
    assert warning == (
        f"no ONNX export ({exported.reason}): the gateway will serve this version with "
        f"its own library (test_onnx) at {exported.model_ms:.2f} ms a row "
        f"(median of {exported.timed_rows} one-row answers), "
        "against about 0.1 ms with ONNX Runtime for models that convert, and a rollout "
        "compares its latency with the champion's"
    )


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
    assert (card["onnx_differing_rows"], card["onnx_label_flips"]) == (0, 0)
    assert result.onnx is not None
    assert card["prediction_ms"] == {"onnx": round(result.onnx.onnx_ms or 0.0, 4)}
    assert result.files["onnx"] == str(tmp_path / "out" / "model.onnx")
    assert not [w for w in result.warnings if "ONNX" in w]


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
    assert result.onnx is not None
    assert result.onnx.model_ms is not None
    assert card["prediction_ms"] == {"model": round(result.onnx.model_ms, 4)}
    assert (
        f"no ONNX export ({card['onnx_note']}): the gateway will serve this version with "
        f"scikit-learn at {result.onnx.model_ms:.2f} ms a row (median of {result.onnx.timed_rows} "
        "one-row answers), "
        "against about 0.1 ms with ONNX Runtime for models that convert, and a rollout "
        "compares its latency with the champion's"
    ) in result.warnings


def test_a_run_whose_export_is_refused_says_why_and_what_it_costs(
    new_project: Callable[..., Path], tmp_path: Path
) -> None:
    """A forest behind a StandardScaler from model.pipeline, on values measured to two
    decimals: rows on a threshold move across it in ONNX's float32, on more rows than
    allowed. The card, the run's result, its warning and its summary say so, with the
    one-row time of the model and of the refused export."""
    rng = np.random.default_rng(7)
    n = 1000
    data = pd.DataFrame({"x1": rng.normal(0, 1, n).round(2), "x2": rng.normal(5, 2, n).round(2)})
    data["label"] = np.where(data["x1"] + 0.5 * (data["x2"] - 5) > 0.3, "yes", "no")
    config = new_project(
        data.iloc[:500],
        test=data.iloc[500:],
        model={
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 20},
            "pipeline": [{"transformer": "sklearn.preprocessing.StandardScaler"}],
            "cv_folds": 0,
        },
    )
    result = run(load_config(config), output=tmp_path / "out", apply_gates=False)
    card = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    exported = result.onnx
    assert exported is not None
    assert exported.artifact is None
    assert card["onnx"] is None
    assert card["onnx_note"] == exported.reason
    assert exported.reason.startswith(
        f"ONNX answers differ on {exported.differing_rows} of 500 test rows ("
    )
    assert exported.reason.endswith(
        "StandardScaler in front of the trees computes in float32 under ONNX Runtime, which "
        "moves rows that sit on a threshold across it (a tree model needs no scaling: without "
        "such steps the export keeps to the model's answers)"
    )
    assert card["onnx_differing_rows"] == exported.differing_rows > 0.005 * 500
    assert card["onnx_label_flips"] == exported.label_flips
    assert exported.model_ms is not None
    assert exported.onnx_ms is not None
    assert card["prediction_ms"] == {
        "model": round(exported.model_ms, 4),
        "onnx": round(exported.onnx_ms, 4),
    }
    assert (
        f"no ONNX export ({exported.reason}): the gateway will serve this version with "
        f"scikit-learn at {exported.model_ms:.2f} ms a row (median of {exported.timed_rows} "
        "one-row answers), "
        f"against {exported.onnx_ms:.3f} ms with ONNX Runtime as measured on the refused "
        f"export ({exported.model_ms / exported.onnx_ms:.0f}x slower), and a rollout compares "
        "its latency with the champion's"
    ) in result.warnings
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert (
        f"- ONNX: not exported: {exported.reason} ({exported.onnx_ms:.3g} ms a row with ONNX "
        f"Runtime; {exported.model_ms:.3g} ms a row with scikit-learn)"
    ) in summary


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


def test_catboost_exports_its_own_onnx_behind_the_preprocessing(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    """CatBoost's own export of its trees, with the class names as CatBoost keeps them."""
    config = ModelConfig.model_validate(
        {"estimator": "catboost.CatBoostClassifier", "params": {"iterations": 20}}
    )
    model = build_model(resolve_estimator(config, seed=0), KINDS, "auto")
    X = prepare_features(rows, KINDS)
    model.fit(X.iloc[:200], rows["label"].iloc[:200])
    exported = export_onnx(model, KINDS, "classification", X.iloc[200:], tmp_path / "m.onnx")
    assert exported.artifact is not None, exported.reason
    assert exported.library == "CatBoost"
    assert exported.max_probability_difference is not None
    assert exported.max_probability_difference < 1e-6
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, onnx_feed(X.iloc[200:], KINDS))
    assert labels.reshape(-1).tolist() == model.predict(X.iloc[200:]).tolist()
    assert set(labels.reshape(-1)) == {"yes", "no"}
    np.testing.assert_allclose(probabilities, model.predict_proba(X.iloc[200:]), atol=1e-6)


def test_a_multiclass_catboost_export_agrees_on_one_label_a_row(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    # CatBoost answers a multiclass predict() as a [rows, 1] column; ONNX one label a row.
    config = ModelConfig.model_validate(
        {"estimator": "catboost.CatBoostClassifier", "params": {"iterations": 20}}
    )
    model = build_model(resolve_estimator(config, seed=0), KINDS, "auto")
    X = prepare_features(rows, KINDS)
    y = rows["colour"].fillna("none")
    model.fit(X.iloc[:200], y.iloc[:200])
    exported = export_onnx(model, KINDS, "classification", X.iloc[200:], tmp_path / "m.onnx")
    assert exported.reason == "predictions equal to the model's on every test row"
    labels = onnx_labels(tmp_path / "m.onnx", X.iloc[200:])
    assert labels.tolist() == np.asarray(model.predict(X.iloc[200:])).reshape(-1).tolist()


def test_catboost_says_why_it_cannot_export_float_labels(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    config = ModelConfig.model_validate(
        {"estimator": "catboost.CatBoostClassifier", "params": {"iterations": 20}}
    )
    model = build_model(resolve_estimator(config, seed=0), KINDS, "auto")
    X = prepare_features(rows, KINDS)
    model.fit(X.iloc[:200], (rows["label"].iloc[:200] == "yes").astype(float))
    exported = export_onnx(model, KINDS, "classification", X.iloc[200:], tmp_path / "m.onnx")
    assert exported.artifact is None
    assert exported.reason.startswith("not convertible: ")
    assert exported.reason.endswith("ONNX format does not support floating-point labels")
    assert exported.model_ms is not None  # the cost is measured, and said at registration
    assert not (tmp_path / "m.onnx").exists()
