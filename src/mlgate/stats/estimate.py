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

__all__ = [
    "MIN_CALIBRATION_ROWS",
    "AccuracyEstimate",
    "BinaryEstimate",
    "Calibration",
    "estimate_accuracy",
    "estimate_binary",
]

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
    separation: float | None = Field(
        None,
        description="ROC AUC of the top-class probability for telling the held-out rows' "
        "right answers from wrong ones; None when too few rows, or on cards older than it.",
    )
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
            separation=separation,
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


class BinaryEstimate(BaseModel):
    """A binary classifier's expected F1 (of the positive class) and ROC AUC on rows
    without labels, with their intervals."""

    f1: float
    f1_low: float
    f1_high: float
    roc_auc: float | None = Field(description="None when the rows are expected of one class.")
    roc_auc_low: float | None
    roc_auc_high: float | None
    rows: int
    confidence_level: float = 0.95


#: Label draws of the interval of a binary estimate, and most rows each draw takes.
DRAWS, MAX_DRAWN_ROWS = 400, 2000


def estimate_binary(
    calibration: Calibration,
    top: Any,
    positive: Any,
    *,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> BinaryEstimate | None:
    """Expected F1 and ROC AUC of a binary classifier whose answers had top-class
    probabilities `top` and were the positive class where `positive` is true; None when
    the calibration is not usable or no row has a probability.

    Each row's chance of being positive is its calibrated confidence where it was answered
    positive, one minus it elsewhere. The expected confusion matrix gives F1; ROC AUC is
    that of the model's positive-class probability with each row counted positive by its
    chance and negative by the rest (CBPE). The interval is drawn: labels drawn by those
    chances, the calibration's bins redrawn within their own error, the figures
    recomputed on each draw.
    """
    if not calibration.usable:
        return None
    top = np.asarray(top, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    keep = np.isfinite(top)
    top, positive = top[keep], positive[keep]
    if not len(top):
        return None
    chance = calibration.confidence(top)
    p = np.where(positive, chance, 1 - chance)
    score = np.where(positive, top, 1 - top)
    f1 = _expected_f1(p, positive)
    auc = _weighted_auc(score, p)
    rng = np.random.default_rng(seed)
    # Draws on at most MAX_DRAWN_ROWS rows: on a larger window the interval is wider
    # than it need be, never narrower.
    n = len(top)
    drawn = rng.choice(n, MAX_DRAWN_ROWS, replace=False) if n > MAX_DRAWN_ROWS else np.arange(n)
    shares, counts = np.asarray(calibration.accuracy), np.asarray(calibration.counts)
    bin_error = np.sqrt(np.maximum(shares * (1 - shares), 1 / counts) / counts)
    redrawn = np.clip(shares + rng.normal(0, 1, (DRAWS, len(shares))) * bin_error, 0, 1)
    # Each row's confidence is linear in the bins' shares: between two bins, by weight.
    centres, at = np.asarray(calibration.scores), top[drawn]
    upper = np.clip(np.searchsorted(centres, at), 1, max(len(centres) - 1, 1))
    lower = upper - 1
    span = centres[upper] - centres[lower] if len(centres) > 1 else np.ones(1)
    weight = np.clip((at - centres[lower]) / np.where(span > 0, span, 1), 0, 1)
    if len(centres) == 1:
        lower = upper = np.zeros(len(at), dtype=int)
    c = (1 - weight) * redrawn[:, lower] + weight * redrawn[:, upper]
    answered = positive[drawn]
    labels = rng.random(c.shape) < np.where(answered, c, 1 - c)
    tp = (labels & answered).sum(axis=1)
    wrong = (labels != answered).sum(axis=1)
    f1s = np.where(tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)
    n1 = labels.sum(axis=1)
    n0 = len(drawn) - n1
    ranks = _ranks(score[drawn])
    with np.errstate(invalid="ignore", divide="ignore"):
        aucs = (labels @ ranks - n1 * (n1 + 1) / 2) / (n1 * n0)
    aucs = aucs[(n1 > 0) & (n0 > 0)]
    tail = (1 - confidence_level) / 2
    # The spread of the draws about their own centre, put about the expected figure.
    f1_lo, f1_hi = np.quantile(f1s, [tail, 1 - tail]) - np.median(f1s)
    auc_low = auc_high = None
    if auc is not None and len(aucs):
        auc_lo, auc_hi = np.quantile(aucs, [tail, 1 - tail]) - np.median(aucs)
        auc_low, auc_high = max(0.0, auc + float(auc_lo)), min(1.0, auc + float(auc_hi))
    else:
        auc = None
    return BinaryEstimate(
        f1=f1,
        f1_low=max(0.0, f1 + float(f1_lo)),
        f1_high=min(1.0, f1 + float(f1_hi)),
        roc_auc=auc,
        roc_auc_low=auc_low,
        roc_auc_high=auc_high,
        rows=n,
        confidence_level=confidence_level,
    )


def _expected_f1(p: Any, positive: Any) -> float:
    """F1 of the expected confusion matrix: true positives are the chances of the rows
    answered positive, false negatives those of the rows answered negative."""
    tp = float(p[positive].sum())
    fp = float((1 - p[positive]).sum())
    fn = float(p[~positive].sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0


def _ranks(score: Any) -> Any:
    """Ranks from 1, ties given their mean rank."""
    from scipy.stats import rankdata

    return rankdata(score)


def _weighted_auc(score: Any, p: Any) -> float | None:
    """ROC AUC with each row a positive of weight p and a negative of weight 1 - p: the
    chance a positive scores above a negative, ties counting half."""
    values, group = np.unique(score, return_inverse=True)
    pos = np.bincount(group, p, len(values))
    neg = np.bincount(group, 1 - p, len(values))
    below = np.cumsum(neg) - neg
    total = pos.sum() * neg.sum()
    if total <= 0:
        return None
    return float((pos * (below + neg / 2)).sum() / total)
