"""Scoring a fitted model on held-out rows: metrics, slices and prediction latency."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlgate.errors import DataError
from mlgate.evaluation.metrics import available_metrics, get_metric
from mlgate.evaluation.slices import slice_masks

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "EvaluationResult",
    "Latency",
    "SliceMetrics",
    "evaluate_model",
    "predict_rows",
    "score",
    "unseen_labels",
]

#: Rows timed one at a time to measure single-row latency.
LATENCY_ROWS = 50


class Latency(BaseModel):
    """How long predictions take on this machine."""

    single_row_ms: float = Field(description="Median time to predict one row.")
    batch_rows: int
    batch_ms: float = Field(description="Time to predict the whole evaluation set at once.")


class SliceMetrics(BaseModel):
    """Metrics on the rows where one column has one value."""

    column: str
    value: str
    rows: int
    metrics: dict[str, float | None]


class EvaluationResult(BaseModel):
    """A model's scores on one dataset."""

    task: str
    rows: int
    metrics: dict[str, float | None] = Field(description="None where a metric is undefined.")
    slices: list[SliceMetrics] = Field(default_factory=list)
    latency: Latency | None = None


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds, for messages and JSON."""
    return value.item() if hasattr(value, "item") else value


def unseen_labels(truth: pd.Series, known: list[Any]) -> str | None:
    """The labels of `truth` outside `known`, for a message: "'a', 'b' (3 of 80 rows)" (the
    first five, in the order of their text); None when every label is known."""
    unseen = truth[~truth.isin(known)]
    if not len(unseen):
        return None
    shown = ", ".join(repr(_plain(v)) for v in sorted(unseen.unique(), key=str)[:5])
    return f"{shown} ({len(unseen)} of {len(truth)} rows)"


def predict_rows(model: Any, X: pd.DataFrame) -> np.ndarray[Any, Any]:
    """`model.predict(X)` as one answer a row: CatBoost's multiclass classifier answers a
    column of shape [rows, 1], which compared with a row of labels would broadcast."""
    import numpy as np

    answers = np.asarray(model.predict(X))
    return answers.reshape(-1) if answers.ndim == 2 and answers.shape[1] == 1 else answers


def _probabilities(model: Any, X: pd.DataFrame) -> Any:
    predict_proba = getattr(model, "predict_proba", None)
    if predict_proba is None:
        return None
    try:
        return predict_proba(X)
    except (AttributeError, NotImplementedError):  # e.g. SVC(probability=False)
        return None


def score(task: str, y_true: Any, y_pred: Any, proba: Any, classes: Any) -> dict[str, float | None]:
    """Every registered metric of `task` that these predictions allow; NaN becomes None.

    scikit-learn's warnings about degenerate inputs (a slice holding one class, a
    class never predicted) are silenced: the values say it, as None or as 0.
    """
    import warnings

    results: dict[str, float | None] = {}
    for name in available_metrics(task):
        metric = get_metric(name, task)
        if metric.needs_proba and proba is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # UndefinedMetricWarning is one too
            value = metric.score(y_true, y_pred, proba, classes)
        results[name] = None if math.isnan(value) else value
    return results


def _latency(model: Any, X: pd.DataFrame) -> Latency:
    import statistics

    rows = min(LATENCY_ROWS, len(X))
    times = []
    for i in range(rows):
        start = time.perf_counter()
        model.predict(X.iloc[i : i + 1])
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.predict(X)
    batch = time.perf_counter() - start
    return Latency(
        single_row_ms=statistics.median(times) * 1e3 if times else 0.0,
        batch_rows=len(X),
        batch_ms=batch * 1e3,
    )


def evaluate_model(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    *,
    slices: pd.DataFrame | None = None,
    measure_latency: bool = True,
) -> EvaluationResult:
    """Score `model` on (X, y), per slice of each column in `slices` too.

    Labels the model never saw in training are refused: no classifier can predict
    them, and probability metrics are undefined for them.
    """
    import numpy as np

    classes = getattr(model, "classes_", None)
    if task == "classification" and classes is not None:
        known = [_plain(c) for c in classes]
        unseen = unseen_labels(y, known)
        if unseen:
            raise DataError(
                f"the target holds label(s) the model never saw in training: {unseen}; "
                f"it knows {', '.join(map(repr, known))}.",
                fix="Evaluate on data labelled like the training data, or retrain with them.",
            )
    y_pred = predict_rows(model, X)
    proba = _probabilities(model, X) if task == "classification" else None
    metrics = score(task, y, y_pred, proba, classes)
    found: list[SliceMetrics] = []
    if slices is not None:
        truth, predicted = np.asarray(y), np.asarray(y_pred)
        for column in slices.columns:
            for value, mask in slice_masks(slices[column]):
                found.append(
                    SliceMetrics(
                        column=column,
                        value=str(value),
                        rows=int(mask.sum()),
                        metrics=score(
                            task,
                            truth[mask],
                            predicted[mask],
                            proba[mask] if proba is not None else None,
                            classes,
                        ),
                    )
                )
    return EvaluationResult(
        task=task,
        rows=len(X),
        metrics=metrics,
        slices=found,
        latency=_latency(model, X) if measure_latency and len(X) else None,
    )
