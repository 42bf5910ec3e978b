"""Deciding between classification and regression from the target column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Task", "infer_task"]

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
