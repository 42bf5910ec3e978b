"""Permutation importance on held-out rows, and what moved between two versions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlgate.evaluation.importance import Importance, importance_changes, permutation_importances


def _frame(rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"signal": rng.normal(size=rows), "noise": rng.normal(size=rows)})


def test_a_feature_the_model_uses_matters_and_one_it_ignores_does_not() -> None:
    X = _frame()
    y = np.where(X["signal"] > 0, "yes", "no")
    model = LogisticRegression().fit(X, y)
    found = permutation_importances(model, X, y, "classification", max_rows=200)
    assert (found.score, found.rows, found.repeats) == ("accuracy", 200, 3)
    assert found.mean["signal"] > 0.3
    assert abs(found.mean["noise"]) < 0.02
    assert found.ranked() == ["signal", "noise"]
    again = permutation_importances(model, X, y, "classification", max_rows=200)
    assert again == found  # seeded: the same rows and shuffles


def test_a_regressor_s_importance_is_its_drop_in_r2() -> None:
    X = _frame(300)
    y = 3 * X["signal"].to_numpy() + 0.1 * X["noise"].to_numpy()
    found = permutation_importances(LinearRegression().fit(X, y), X, y, "regression")
    assert found.score == "r2"
    assert found.mean["signal"] > 1.0 > found.mean["noise"] >= 0


def test_the_features_that_moved_most_come_first() -> None:
    def imp(score: str = "accuracy", **mean: float) -> Importance:
        return Importance(score=score, rows=10, repeats=3, mean=mean, std=dict.fromkeys(mean, 0.0))

    before, after = imp(a=0.3, b=0.1, c=0.05), imp(a=0.05, b=0.12, d=0.2)
    moved = importance_changes(before, after, top=3)
    assert [(m.feature, m.baseline, m.candidate, m.change) for m in moved] == [
        ("a", 0.3, 0.05, -0.25),
        ("d", None, 0.2, 0.2),
        ("c", 0.05, None, -0.05),
    ]
    assert importance_changes(None, after) == []
    assert importance_changes(before, imp("r2", a=0.1)) == []  # different scores
