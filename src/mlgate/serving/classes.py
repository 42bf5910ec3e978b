"""A classifier's classes, as its predictions show them, and the class a label names.

A label names a class by its text ("yes" is "yes") or, when both are numbers, by its
value: pandas makes a label column of 0 and 1 float (0.0, 1.0) as soon as one value is
missing, and 1.0 then names the class its predictions show as 1. The class is kept as
the predictions show it, so that a label joins its prediction.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Classes"]


class Classes:
    """The classes a classifier predicts (as its predictions show them), in order."""

    def __init__(self, shown: list[str]) -> None:
        self.shown = shown
        self._texts = set(shown)
        self._values: dict[float, str] = {}
        for name in shown:
            value = _number(name)
            if value is not None:
                self._values.setdefault(value, name)

    def match(self, label: Any) -> str | None:
        """The class `label` names, as predictions show it; None when it names none."""
        text = str(label)
        if text in self._texts:
            return text
        value = _number(label)
        return None if value is None else self._values.get(value)

    def listed(self) -> str:
        """The classes for a message: the first 20, then "..." if there are more."""
        return ", ".join(self.shown[:20]) + (", ..." if len(self.shown) > 20 else "")


def _number(value: Any) -> float | None:
    """`value` as a finite number (a number, or text that writes one); else None."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float) and not (
        isinstance(value, str) and value.isascii() and value == value.strip()
    ):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # not a number; an integer past float's range
        return None
    return number if math.isfinite(number) else None
