"""Faults injected into the challenger on purpose, to rehearse a rollback.

A rollout is only as good as its rollback, and the way to know a rollback works
is to watch one happen: with `MLGATE_FAULTS` (or `mlgate serve --fault`) the
gateway makes the challenger fail, slow down or answer wrongly, and the
controller must take it out while users keep getting the champion's answers.
The champion is never touched: faults follow the challenger role, not a version,
so a promoted version serves clean.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from mlgate.config.faults import Faults
from mlgate.errors import InjectedFault
from mlgate.serving.runtime import Prediction, ServedModel

__all__ = ["FaultyModel", "wrap"]


def wrap(faults: Faults, model: ServedModel) -> ServedModel:
    """`model` with `faults`, or `model` itself when there are none."""
    if not faults.active:
        return model
    own = {f.name: getattr(model, f.name) for f in fields(ServedModel) if f.init}
    return FaultyModel(**own, faults=faults)


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
