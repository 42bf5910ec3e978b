"""Fitting: the hold-out split, cross-validation and the final fit."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlgate.config.models import SplitConfig
from mlgate.data.disclosure import closest, example, names, value
from mlgate.errors import DataError, TrainingError
from mlgate.training.preprocessing import final_estimator
from mlgate.training.task import Task

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CrossValidation", "check_target", "cross_validate", "fit", "split_holdout"]

Progress = Callable[[str], None]


class CrossValidation(BaseModel):
    """One metric's scores over the folds of the training set."""

    metric: str
    folds: int
    scores: list[float]
    mean: float
    std: float


def check_target(frame: pd.DataFrame, target: str, task: Task | None, *, source: str) -> None:
    """Refuse a target that is absent, empty or partly missing; for `task`, one it cannot learn.

    With `task` None only the checks every task shares run (used before the task is known).
    """
    import pandas as pd

    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} is not in the data.",
            source=source,
            fix=f"{closest(target, frame.columns)}Set data.target to one of: "
            f"{names(frame.columns)}.",
        )
    values = frame[target]
    if values.isna().all():
        raise DataError(
            f"target column {target!r} has no values.",
            source=source,
            fix="Label the rows, or set data.target to the column that holds the labels.",
        )
    if values.isna().any():
        raise DataError(
            f"target column {target!r} is missing in {int(values.isna().sum())} of "
            f"{len(values)} row(s).",
            source=source,
            fix="Remove or label those rows, or set data.drop_missing_target: true in "
            "mlgate.yaml to leave them out (counted in the run's result).",
        )
    if task == "regression" and (
        not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    ):
        raise DataError(
            f"target column {target!r} holds "
            f"{'true/false' if pd.api.types.is_bool_dtype(values) else 'text'} values"
            f"{example(values.iloc[0])}, which a regressor cannot learn.",
            source=source,
            fix="Use a classifier (or task: classification), "
            "or set data.target to a numeric column.",
        )
    if task == "classification":
        if values.nunique() < 2:
            raise DataError(
                f"target column {target!r} has a single class{example(values.iloc[0], lead='')} "
                "in all "
                f"{len(values)} rows; a classifier needs at least two.",
                source=source,
                fix="Add rows of another class, or check that data.target names the label.",
            )
        numeric = pd.api.types.is_float_dtype(values)
        if numeric and not bool((values == values.round()).all()):
            continuous = next(v for v in values if v != round(v))
            raise DataError(
                f"target column {target!r} holds continuous values{example(continuous)}, "
                "which a classifier cannot learn.",
                source=source,
                fix="Set task: regression and use a regressor.",
            )


def split_holdout(
    frame: pd.DataFrame, target: str, split: SplitConfig, task: Task, *, source: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test parts of `frame`, stratified by class when asked and possible."""
    from sklearn.model_selection import train_test_split

    stratify = None
    if task == "classification" and split.stratify:
        counts = frame[target].value_counts()
        if counts.min() < 2:
            raise DataError(
                f"class {value(counts.idxmin())} of target {target!r} has a single row, "
                "too few to hold out a stratified test set.",
                source=source,
                fix="Add rows of that class, or set data.split.stratify: false.",
            )
        stratify = frame[target]
    try:
        train, test = train_test_split(
            frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
        )
    except ValueError as e:
        raise DataError(
            f"cannot hold out a test set of {split.test_size:g} of {len(frame)} rows: {e}",
            source=source,
            fix="Change data.split.test_size, or give data.test a file.",
        ) from e
    return train, test


def cross_validate(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    task: Task,
    *,
    folds: int,
    seed: int,
    progress: Progress | None = None,
) -> list[CrossValidation]:
    """Scores of the main metrics of `task` over `folds` shuffled folds of the training data."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    from mlgate.evaluation.evaluate import predict_rows, score

    if task == "classification":
        smallest = int(y.value_counts().min())
        if smallest < folds:
            raise DataError(
                f"the smallest class has {smallest} row(s), fewer than model.cv_folds={folds}.",
                fix=f"Set model.cv_folds to at most {max(smallest, 2)} (or 0 to skip).",
            )
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        names = ["accuracy", "f1"]
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
        names = ["rmse", "r2"]
    collected: dict[str, list[float]] = {name: [] for name in names}
    for i, (fit_rows, score_rows) in enumerate(splitter.split(X, y), start=1):
        if progress:
            progress(f"cross-validation fold {i}/{folds}")
        fold = clone(model)
        fit(fold, X.iloc[fit_rows], y.iloc[fit_rows])
        predicted = predict_rows(fold, X.iloc[score_rows])
        found = score(task, y.iloc[score_rows], predicted, None, getattr(fold, "classes_", None))
        for name in names:
            value = found.get(name)
            collected[name].append(float("nan") if value is None else value)
    return [
        CrossValidation(
            metric=name,
            folds=folds,
            scores=values,
            mean=statistics.fmean(values),
            std=statistics.pstdev(values),
        )
        for name, values in collected.items()
    ]


def fit(model: Any, X: pd.DataFrame, y: pd.Series) -> float:
    """Fit `model` in place and return the seconds it took."""
    start = time.perf_counter()
    try:
        model.fit(X, y)
    except Exception as e:  # whatever the configured estimator raises is a failed fit
        final = final_estimator(model)
        detail = " ".join(str(e).split()) or type(e).__name__
        raise TrainingError(
            f"{type(final).__name__} failed to fit on {len(X)} rows: {detail}"
        ) from e
    return time.perf_counter() - start
