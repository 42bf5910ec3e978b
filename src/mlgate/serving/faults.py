"""Faults injected into the challenger on purpose, to rehearse a rollback.

A rollout is only as good as its rollback, and the way to know a rollback works
is to watch one happen: with `MLGATE_FAULTS` (or `mlgate serve --fault`) the
gateway makes the challenger fail, slow down or answer wrongly, and the
controller must take it out while users keep getting the champion's answers.
The champion is never touched: faults follow the challenger role, not a version,
so a promoted version serves clean.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from mlgate.errors import InjectedFault
from mlgate.serving.runtime import Prediction, ServedModel

__all__ = ["Faults", "FaultyModel", "InjectedFault"]

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

    def wrap(self, model: ServedModel) -> ServedModel:
        """`model` with these faults, or `model` itself when there are none."""
        if not self.active:
            return model
        own = {f.name: getattr(model, f.name) for f in fields(ServedModel)}
        return FaultyModel(**own, faults=self)


@dataclass
class FaultyModel(ServedModel):
    """A served model whose predictions fail, slow down or go wrong as its faults say."""

    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def fast(self) -> bool:
        """A slowed version runs off the event loop, as a slow model would: its sleep must
        hold up its own requests, not the champion's."""
        return self.session is not None and self.faults.slow <= 1

    def predict(self, columns: dict[str, Any]) -> Prediction:
        started = time.perf_counter()
        if self.faults.errors and self.rng.random() < self.faults.errors:
            raise InjectedFault(f"injected fault: {self.faults.describe()}")
        prediction = ServedModel.predict(self, columns)
        if self.faults.flip:
            prediction = self._flip(prediction)
        if self.faults.slow > 1:
            time.sleep((self.faults.slow - 1) * (time.perf_counter() - started))
        return prediction

    def _flip(self, prediction: Prediction) -> Prediction:
        labels = list(prediction.labels)
        probabilities = prediction.probabilities
        classes = self.classes
        if probabilities is not None:
            probabilities = probabilities.copy()
        for row, label in enumerate(labels):
            if self.rng.random() >= self.faults.flip:
                continue
            if classes and len(classes) > 1 and label in classes:
                # the next class, its probabilities rolled along
                labels[row] = classes[(classes.index(label) + 1) % len(classes)]
                if probabilities is not None:
                    probabilities[row] = np.roll(probabilities[row], 1)
            elif isinstance(label, int | float):
                labels[row] = label + abs(label) + 1.0
        return Prediction(labels, probabilities)
