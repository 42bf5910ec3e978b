"""Deciding between classification and regression from the target column and the estimator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Task", "estimator_task", "infer_task"]

Task = Literal["classification", "regression"]

#: Most distinct integer values a target may have and still be read as class labels.
MAX_INTEGER_CLASSES = 20


def infer_task(target: pd.Series) -> Task:
    """Classification for text, boolean or few integer labels; regression otherwise."""
    import pandas as pd

    values = target.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    integral = bool((values == values.round()).all())
    if integral and values.nunique() <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def estimator_task(estimator: Any) -> Task | None:
    """The task an estimator declares (scikit-learn's classifier or regressor tag), if any."""
    from sklearn.utils import get_tags

    try:
        kind = get_tags(estimator).estimator_type
    except (AttributeError, TypeError):  # not built on BaseEstimator: its own word, if any
        kind = getattr(estimator, "_estimator_type", None)
    if kind == "classifier":
        return "classification"
    if kind == "regressor":
        return "regression"
    return None
