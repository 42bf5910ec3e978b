"""Slices: the rows where one column has one value (a missing value is a value too)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["MISSING_SLICE", "slice_masks"]

#: The value a slice of missing values is shown with.
MISSING_SLICE = "(missing)"


def slice_masks(values: Any) -> Iterator[tuple[Any, Any]]:
    """(value, boolean mask over the rows) for each value of the pandas Series `values`,
    in the order of their text."""
    values = values.astype(object).where(values.notna(), MISSING_SLICE)
    for value in sorted(values.unique(), key=str):
        yield value, (values == value).to_numpy()
