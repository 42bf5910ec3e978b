"""How closely an ONNX export must answer as its model: labels by value, probabilities
within 1e-4, and for tree models a counted few float32 threshold flips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlgate.registry._agreement import same_labels
from mlgate.registry.onnx import export_onnx, onnx_feed
from mlgate.road._fit import onnx_warning
from mlgate.training.preprocessing import build_model, prepare_features

NUMERIC = {"a": "numeric", "b": "numeric"}


def frame(n: int, seed: int, decimals: int = 3) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Two features measured to `decimals` places (so values repeat), and a noisy label."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"a": rng.normal(0, 1, n).round(decimals), "b": rng.normal(5, 2, n).round(decimals)}
    )
    y = np.where(X["a"] + 0.5 * (X["b"] - 5) + rng.normal(0, 0.5, n) > 0, "yes", "no")
    return prepare_features(X, NUMERIC), y


def answers(path: Path, X: pd.DataFrame) -> tuple[Any, Any]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, onnx_feed(X, NUMERIC))
    return labels.reshape(-1), probabilities


def lying_about(model: Any, rows: Any) -> Any:
    """`model`, whose final estimator now answers the other class on the rows where
    `rows(transformed X)` holds: a disagreement ONNX cannot share, of known size."""
    final = model.steps[-1][1]
    honest = final.predict

    def predict(X: Any) -> Any:
        labels = honest(X)
        flip = rows(np.asarray(X))
        return np.where(flip, np.where(labels == final.classes_[0], *final.classes_[::-1]), labels)

    final.predict = predict
    return model


def test_a_forest_whose_float32_thresholds_flip_a_label_is_kept_and_the_flip_counted(
    tmp_path: Path,
) -> None:
    """Scaled in float32 by ONNX Runtime, a value the forest split on (values repeat at
    three decimals) lands one float32 step across the threshold: a tree takes the other
    branch. Here that moves 2 rows of 1,000, one of them across the decision."""
    X, y = frame(1400, seed=1)
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0))
    model.fit(X.iloc[:400], y[:400])
    X_test = X.iloc[400:]
    exported = export_onnx(model, NUMERIC, "classification", X_test, tmp_path / "model.onnx")
    assert exported.artifact is not None, exported.reason
    labels, probabilities = answers(tmp_path / "model.onnx", X_test)
    flipped = ~same_labels(labels, model.predict(X_test))
    apart = np.abs(probabilities - model.predict_proba(X_test)).max(axis=1) > 1e-4
    assert flipped.sum() >= 1, "this data no longer flips a label; the test needs another seed"
    assert (exported.label_flips, exported.differing_rows) == (
        flipped.sum(),
        (flipped | apart).sum(),
    )
    assert exported.differing_rows <= 5  # 0.5% of 1,000
    assert exported.reason == (
        f"predictions equal to the model's on {1000 - exported.differing_rows} of 1000 test "
        f"rows; {exported.differing_rows} differ ({exported.label_flips} in label, "
        f"{exported.differing_rows - exported.label_flips} in probabilities alone by more than "
        "0.0001), as float32 arithmetic can move a feature across a tree threshold (at most "
        "0.5% of rows may)"
    )
    assert onnx_warning(exported) == [
        f"the ONNX export answers {exported.differing_rows} of 1000 test rows otherwise than "
        f"the model, {exported.label_flips} of them in label, as float32 arithmetic can move "
        "a feature across a tree threshold (up to 0.5% of rows may); the gateway serves those "
        "rows as ONNX Runtime answers them"
    ]


def test_a_forest_differing_on_more_rows_than_allowed_is_refused_with_both_speeds(
    tmp_path: Path,
) -> None:
    X, y = frame(600, seed=0)
    model = build_model(RandomForestClassifier(n_estimators=9, random_state=0), NUMERIC, "auto")
    model.fit(X.iloc[:300], y[:300])
    X_test = X.iloc[300:]
    lying_about(model, lambda T: T[:, 0] > 1.0)  # column 0 is "a", imputed, never scaled
    count = int((X_test["a"] > 1.0).sum())
    assert count > 0.005 * 300
    exported = export_onnx(model, NUMERIC, "classification", X_test, tmp_path / "model.onnx")
    assert exported.artifact is None
    assert not (tmp_path / "model.onnx").exists()
    assert exported.reason == (
        f"ONNX answers differ on {count} of 300 test rows ({count} in label, 0 in "
        "probabilities alone by more than 0.0001); a tree model's export may differ on at "
        "most 0.5% of rows (float32 threshold flips)"
    )
    assert (exported.differing_rows, exported.label_flips) == (count, count)
    # Both ways of serving were timed: the model (predict and predict_proba of one row)
    # and the refused export, so registration can say what the refusal costs.
    assert exported.model_ms is not None
    assert exported.onnx_ms is not None
    assert 1 <= exported.timed_rows <= 30  # fewer when the time budget runs out first
    (warning,) = onnx_warning(exported)
    ratio = exported.model_ms / exported.onnx_ms
    assert warning == (
        f"no ONNX export ({exported.reason}): the gateway will serve this version with "
        f"scikit-learn at {exported.model_ms:.2f} ms a row "
        f"(median of {exported.timed_rows} one-row answers), "
        f"against {exported.onnx_ms:.3f} ms with ONNX Runtime as measured on the refused "
        f"export ({ratio:.0f}x slower), and a rollout compares its latency with the champion's"
    )


def test_one_row_more_than_allowed_is_refused_and_one_row_fewer_is_kept(tmp_path: Path) -> None:
    X, y = frame(800, seed=0)
    X_test = X.iloc[400:]
    a = np.sort(X_test["a"].to_numpy())[::-1]
    for flips, kept in ((2, True), (3, False)):  # at most 0.5% of 400 rows: 2
        model = build_model(RandomForestClassifier(n_estimators=9, random_state=0), NUMERIC, "auto")
        model.fit(X.iloc[:400], y[:400])
        cut = (a[flips - 1] + a[flips]) / 2  # the `flips` largest values of "a"
        lying_about(model, lambda T, cut=cut: T[:, 0] > cut)
        exported = export_onnx(model, NUMERIC, "classification", X_test, tmp_path / "m.onnx")
        assert (exported.artifact is not None, exported.differing_rows) == (kept, flips)


def test_a_model_without_trees_may_differ_on_no_row(tmp_path: Path) -> None:
    X, y = frame(600, seed=0)
    model = build_model(LogisticRegression(), NUMERIC, "auto")
    model.fit(X.iloc[:300], y[:300])
    X_test = X.iloc[300:]
    top = X_test["a"].max()
    lying_about(model, lambda T: T[:, 0] >= T[:, 0].max())  # the row of the largest "a"
    assert (X_test["a"] == top).sum() == 1
    exported = export_onnx(model, NUMERIC, "classification", X_test, tmp_path / "model.onnx")
    assert exported.reason == (
        "ONNX answers differ on 1 of 300 test rows (1 in label, 0 in probabilities alone by "
        "more than 0.0001); a model without trees may differ on none"
    )


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(lambda y: (y == "yes") * 1.0, id="floats"),
        pytest.param(lambda y: np.where(y == "yes", -1.0, 2.0), id="negative-floats"),
        pytest.param(lambda y: (y == "yes") * 1, id="ints"),
        pytest.param(lambda y: y == "yes", id="booleans"),
        pytest.param(lambda y: y, id="strings"),
    ],
)
def test_labels_are_compared_as_values_and_answered_in_the_models_type(
    labels: Any, tmp_path: Path
) -> None:
    """skl2onnx answers 0.0/1.0 (or False/True) classes as 0/1: the export casts them
    back, so the gateway answers 1.0 with ONNX Runtime as with the model."""
    X, y = frame(400, seed=0)
    y = labels(y)
    model = build_model(RandomForestClassifier(n_estimators=8, random_state=0), NUMERIC, "auto")
    model.fit(X.iloc[:200], y[:200])
    X_test = X.iloc[200:]
    exported = export_onnx(model, NUMERIC, "classification", X_test, tmp_path / "model.onnx")
    assert exported.reason == "predictions equal to the model's on every test row"
    got, _ = answers(tmp_path / "model.onnx", X_test)
    expected = model.predict(X_test)
    assert got.dtype.kind == expected.dtype.kind or expected.dtype.kind in "OU"
    assert got.tolist() == expected.tolist()


def test_labels_compare_as_values_never_as_text() -> None:
    assert same_labels(np.asarray([0, 1, 2]), np.asarray([0.0, 1.0, 2.0])).all()
    assert same_labels(np.asarray([True, False]), np.asarray([1, 0])).all()
    assert not same_labels(np.asarray(["1"]), np.asarray([1.0])).any()
    assert not same_labels(np.asarray([1.0]), np.asarray([1.5])).any()
