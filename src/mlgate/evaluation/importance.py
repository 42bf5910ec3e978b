"""Permutation importance of a model's input features on its held-out rows.

Each feature's importance is how much the model's score (accuracy for a
classifier, R² for a regressor) drops when that feature's values are shuffled
among the rows, through the whole pipeline: the features are the ones the model
is given, not its encoded columns. Rows and repeats are bounded so it costs
about a second at registration; the spread across repeats is kept beside the mean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Importance", "ImportanceChange", "importance_changes", "permutation_importances"]

#: Most held-out rows the importance is measured on (a sample beyond that).
MAX_ROWS = 500
#: Shuffles of each feature.
REPEATS = 3
#: Each task's score whose drop is the importance.
SCORES = {"classification": "accuracy", "regression": "r2"}


class Importance(BaseModel):
    """Each feature's permutation importance on a version's held-out rows."""

    score: str = Field(description="The score whose drop is measured: accuracy or r2.")
    rows: int
    repeats: int
    mean: dict[str, float] = Field(description="Mean drop of the score, by feature.")
    std: dict[str, float] = Field(description="Its standard deviation across repeats.")

    def ranked(self) -> list[str]:
        """The features, most important first."""
        return sorted(self.mean, key=lambda name: (-self.mean[name], name))


class ImportanceChange(BaseModel):
    """One feature's importance for the baseline and the candidate."""

    feature: str
    baseline: float | None
    candidate: float | None
    change: float = Field(description="candidate - baseline (an absent side counts as 0).")


def permutation_importances(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    task: str,
    *,
    max_rows: int = MAX_ROWS,
    repeats: int = REPEATS,
    seed: int = 0,
) -> Importance:
    """The permutation importance of every column of `X` for the fitted `model`."""
    import numpy as np
    from sklearn.inspection import permutation_importance

    from mlgate.evaluation.evaluate import predict_rows
    from mlgate.evaluation.metrics import get_metric

    metric = get_metric(SCORES[task], task)
    y = np.asarray(y)
    if len(X) > max_rows:
        rows = np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False)
        X, y = X.iloc[np.sort(rows)], y[np.sort(rows)]

    def scorer(estimator: Any, data: Any, truth: Any) -> float:
        # predict_rows: CatBoost's multiclass answers a column, which would broadcast.
        return float(metric.score(truth, predict_rows(estimator, data), None, None))

    found = permutation_importance(
        model, X, y, scoring=scorer, n_repeats=repeats, random_state=seed, n_jobs=1
    )
    names = [str(c) for c in X.columns]
    return Importance(
        score=SCORES[task],
        rows=len(X),
        repeats=repeats,
        mean={
            n: round(float(v), 6) + 0.0 for n, v in zip(names, found.importances_mean, strict=True)
        },
        std={
            n: round(float(v), 6) + 0.0 for n, v in zip(names, found.importances_std, strict=True)
        },
    )


def importance_changes(
    baseline: Importance | None, candidate: Importance | None, *, top: int = 5
) -> list[ImportanceChange]:
    """The `top` features whose importance moved most between the two versions, largest
    move first; empty when either side has no importance or they measure other scores."""
    if baseline is None or candidate is None or baseline.score != candidate.score:
        return []
    names = list(dict.fromkeys([*candidate.mean, *baseline.mean]))
    changes = [
        ImportanceChange(
            feature=name,
            baseline=baseline.mean.get(name),
            candidate=candidate.mean.get(name),
            change=round(candidate.mean.get(name, 0.0) - baseline.mean.get(name, 0.0), 6) + 0.0,
        )
        for name in names
    ]
    changes.sort(key=lambda c: (-abs(c.change), c.feature))
    return changes[:top]
