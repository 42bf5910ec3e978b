"""Accuracy estimated without labels, from a classifier's own confidence (CBPE).

At registration the held-out rows are put in bins of equal count by the probability of
the class each was given (its top-class probability), and each bin's share of right
answers is kept: the chance that an answer with that probability is right. On live
traffic, each row's calibrated confidence is that chance: their mean is the expected
accuracy, and the realized accuracy of the window varies around it as a sum of
independent Bernoulli draws. The interval adds the calibration's own error: each bin's
share was measured on its held-out rows only, and a window whose rows crowd into a few
bins leans on those few measurements.

The estimate follows covariate shift (rows moving to where the model is more or less
sure); it cannot see concept drift, a change in how features relate to the label,
which only labels reveal: the monitor reports the gap once they arrive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

__all__ = ["MIN_CALIBRATION_ROWS", "AccuracyEstimate", "Calibration", "estimate_accuracy"]

#: Fewest held-out rows a calibration is fitted on.
MIN_CALIBRATION_ROWS = 100
#: Bins of the calibration: as many as the held-out rows fill with ROWS_PER_BIN, at most
#: MAX_BINS.
ROWS_PER_BIN, MAX_BINS = 50, 20
#: Smallest ROC AUC of the top-class probability for telling right answers from wrong
#: ones on the held-out rows: below it the probabilities say nothing of which are right.
MIN_SEPARATION = 0.55


class Calibration(BaseModel):
    """From top-class probability to the chance the answer is right: the held-out rows in
    bins of equal count, each bin's mean probability and share of right answers."""

    scores: list[float] = Field(description="Each bin's mean top-class probability.")
    accuracy: list[float] = Field(description="Each bin's share of right answers.")
    counts: list[int] = Field(default_factory=list, description="Each bin's held-out rows.")
    rows: int = Field(description="Held-out rows it was fitted on.")
    held_out_accuracy: float
    note: str = Field("", description="Why accuracy cannot be estimated, when it cannot.")

    @property
    def usable(self) -> bool:
        return not self.note

    @classmethod
    def fit(cls, top: Any, correct: Any) -> Calibration:
        """The map from `top` (each held-out row's top-class probability) to `correct`
        (whether its label was right)."""
        top = np.asarray(top, dtype=float)
        correct = np.asarray(correct, dtype=float)
        keep = np.isfinite(top)
        top, correct = top[keep], correct[keep]
        rows = len(top)
        accuracy = float(correct.mean()) if rows else 0.0
        if rows < MIN_CALIBRATION_ROWS:
            return cls(
                scores=[],
                accuracy=[],
                rows=rows,
                held_out_accuracy=accuracy,
                note=f"{rows} held-out rows with probabilities; a calibration needs "
                f"{MIN_CALIBRATION_ROWS}",
            )
        order = np.argsort(top, kind="stable")
        bins = np.array_split(order, min(MAX_BINS, rows // ROWS_PER_BIN))
        note = ""
        separation = _separation(top, correct)
        if separation < MIN_SEPARATION:
            note = (
                "the model's probabilities do not tell its right answers from its wrong ones "
                f"on the held-out rows (ROC AUC {separation:.3f})"
            )
        return cls(
            scores=[float(top[b].mean()) for b in bins],
            accuracy=[float(correct[b].mean()) for b in bins],
            counts=[len(b) for b in bins],
            rows=rows,
            held_out_accuracy=accuracy,
            note=note,
        )

    def confidence(self, top: Any) -> Any:
        """Each row's chance of a right answer: linear between the bins' centres."""
        return np.clip(np.interp(np.asarray(top, dtype=float), self.scores, self.accuracy), 0, 1)

    def bin_of(self, top: Any) -> Any:
        """The bin whose centre is nearest each probability."""
        centres = np.asarray(self.scores)
        cuts = (centres[1:] + centres[:-1]) / 2
        return np.searchsorted(cuts, np.asarray(top, dtype=float))


def _separation(top: Any, correct: Any) -> float:
    """ROC AUC of `top` for `correct`; 1.0 when all answers are right (or all wrong)."""
    from sklearn.metrics import roc_auc_score

    if correct.min() == correct.max():
        return 1.0
    return float(roc_auc_score(correct, top))


class AccuracyEstimate(BaseModel):
    """Expected accuracy on rows without labels, with its interval."""

    accuracy: float
    low: float
    high: float
    rows: int
    confidence_level: float = 0.95


def estimate_accuracy(
    calibration: Calibration, top: Any, *, confidence_level: float = 0.95
) -> AccuracyEstimate | None:
    """The expected accuracy of answers whose top-class probabilities are `top`; None when
    the calibration is not usable or no row has a probability."""
    from scipy.stats import norm

    if not calibration.usable:
        return None
    top = np.asarray(top, dtype=float)
    top = top[np.isfinite(top)]
    if not len(top):
        return None
    chance = calibration.confidence(top)
    n = len(chance)
    expected = float(chance.mean())
    # The window's own draw (independent Bernoulli answers), plus the calibration's error:
    # each bin's share measured on its held-out rows, weighted by the window's rows in it.
    weights = np.bincount(calibration.bin_of(top), minlength=len(calibration.scores)) / n
    shares, counts = np.asarray(calibration.accuracy), np.asarray(calibration.counts)
    bin_error = np.maximum(shares * (1 - shares), 1 / counts) / counts
    variance = float((chance * (1 - chance)).sum()) / n**2 + float((weights**2 * bin_error).sum())
    half = float(norm.ppf(0.5 + confidence_level / 2)) * math.sqrt(variance)
    return AccuracyEstimate(
        accuracy=expected,
        low=max(0.0, expected - half),
        high=min(1.0, expected + half),
        rows=n,
        confidence_level=confidence_level,
    )
