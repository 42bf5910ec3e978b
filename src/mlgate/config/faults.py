"""Faults to inject into a challenger, as `MLGATE_FAULTS` (or `mlgate serve --fault`) says.

The gateway applies them (see `mlgate.serving.faults`); here is only what they
are and how their text is read, so that settings can check the variable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Faults"]

_KINDS = {
    "errors": "the share of the challenger's predictions that fail, from 0 to 1",
    "slow": "how many times its own time the challenger's predictions take, from 1 to 1000",
    "flip": "the share of rows the challenger answers wrongly, from 0 to 1",
}


@dataclass(frozen=True)
class Faults:
    """What to do to the challenger's predictions."""

    errors: float = 0.0
    slow: float = 1.0
    flip: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`errors=0.3,slow=10,flip=0.4` (any of them); ValueError says what is wrong."""
        values: dict[str, float] = {}
        for part in text.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            name, equals, number = (p.strip() for p in part.partition("="))
            if name not in _KINDS:
                raise ValueError(
                    f"unknown fault {part!r}; use name=value with name one of "
                    + "; ".join(f"{k} ({v})" for k, v in _KINDS.items())
                    + ". For example: errors=0.3"
                )
            if not equals or not number:
                raise ValueError(f"fault {name} needs a value: {name}=N, {_KINDS[name]}")
            try:
                value = float(number)
            except ValueError:
                raise ValueError(
                    f"fault {name}: {number!r} is not a number; {name} is {_KINDS[name]}"
                ) from None
            low, high = (1.0, 1000.0) if name == "slow" else (0.0, 1.0)
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"fault {name}={number} is out of range: {name} is {_KINDS[name]}")
            if name in values and values[name] != value:
                raise ValueError(f"fault {name} is given twice ({values[name]:g} and {value:g})")
            values[name] = value
        return cls(**values)

    @property
    def active(self) -> bool:
        return self.errors > 0 or self.slow > 1 or self.flip > 0

    def describe(self) -> str:
        parts = []
        if self.errors:
            parts.append(f"fails {self.errors:.0%} of predictions")
        if self.slow > 1:
            parts.append(f"takes {self.slow:g}x its own time")
        if self.flip:
            parts.append(f"answers {self.flip:.0%} of rows wrongly")
        return "the challenger " + ", ".join(parts) if parts else "none"
