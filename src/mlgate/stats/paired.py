"""Paired statistics on two models' predictions for the same rows.

The bootstrap resamples rows once and scores both models on each resample, so
the interval is of the *difference* on shared rows, which is far tighter than
comparing two independent intervals. Resamples are drawn as count weights, so
every metric built from per-row sums (accuracy, precision, recall, F1 from
confusion counts; log loss, RMSE, MAE, R²) is one matrix product per chunk of
resamples instead of a Python loop.

For the confusion-count metrics a row's contribution depends only on its
(label, baseline prediction, candidate prediction) triple, so rows are grouped
by triple and each resample draws the groups' counts from a multinomial with
the groups' shares: the same distribution as resampling rows one by one, at a
cost that does not grow with the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from mlgate.errors import DataError

__all__ = [
    "BootstrapInterval",
    "McNemarResult",
    "mcnemar_exact",
    "paired_bootstrap",
    "supports_bootstrap",
]

#: Most weights held at once (resamples in a chunk × rows or groups), about 32 MB.
MAX_CELLS = 4_000_000

Array = np.ndarray[Any, Any]
Scorer = Callable[[Array], Array]


class BootstrapInterval(BaseModel):
    """A percentile interval for candidate minus baseline on the same rows."""

    difference: float
    low: float
    high: float
    confidence: float
    resamples: int


class McNemarResult(BaseModel):
    """McNemar's exact test on the rows where exactly one model is right."""

    baseline_only: int
    candidate_only: int
    p_value: float


def mcnemar_exact(baseline_correct: Array, candidate_correct: Array) -> McNemarResult:
    """The exact two-sided McNemar test: a binomial test on the discordant pairs."""
    from scipy.stats import binomtest

    base = np.asarray(baseline_correct, dtype=bool)
    cand = np.asarray(candidate_correct, dtype=bool)
    if base.shape != cand.shape:
        raise DataError(
            f"McNemar's test needs one outcome per row for both models; got {base.shape} "
            f"and {cand.shape}"
        )
    b = int(np.sum(base & ~cand))
    c = int(np.sum(~base & cand))
    p = 1.0 if b + c == 0 else float(binomtest(c, b + c, 0.5).pvalue)
    return McNemarResult(baseline_only=b, candidate_only=c, p_value=p)


def _weights(counts: Array, resamples: int, rng: np.random.Generator) -> Iterator[Array]:
    """Bootstrap count weights over groups of `counts` rows, a chunk of resamples at a time."""
    groups, total = len(counts), int(counts.sum())
    chunk = max(1, min(resamples, MAX_CELLS // groups))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        if groups == total:
            # One row per group: drawing row indices and counting them is several
            # times faster than a multinomial over as many equal shares.
            drawn = rng.integers(0, total, size=(size, total))
            drawn += np.arange(size)[:, None] * total
            counted = np.bincount(drawn.ravel(), minlength=size * total)
            yield counted.reshape(size, total).astype(np.float64)
        else:
            yield rng.multinomial(total, counts / total, size=size).astype(np.float64)


def _confusion_scores(name: str, counts: Array, k: int) -> Array:
    """A classification metric for each resample from its (resamples, k, k) confusion counts.

    Averages follow scikit-learn with `zero_division=0`: macro averages run over the
    labels present in the truth or the predictions, weighted ones by true support.
    """
    cm = counts.reshape(-1, k, k)
    total = cm.sum(axis=(1, 2))
    true_k = cm.sum(axis=2)
    pred_k = cm.sum(axis=1)
    hits = np.diagonal(cm, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "accuracy":
            return np.asarray(hits.sum(axis=1) / total)
        precision = np.where(pred_k > 0, hits / pred_k, 0.0)
        recall = np.where(true_k > 0, hits / true_k, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        if name == "balanced_accuracy":
            present = true_k > 0
            return np.asarray(np.where(present, recall, 0.0).sum(axis=1) / present.sum(axis=1))
        base, _, average = name.partition("_")
        values = {"precision": precision, "recall": recall, "f1": f1}[base]
        if average == "macro":
            present = (true_k > 0) | (pred_k > 0)
            return np.asarray(np.where(present, values, 0.0).sum(axis=1) / present.sum(axis=1))
        return np.asarray((values * true_k).sum(axis=1) / total)


_CONFUSION = {
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
}
_ROWWISE = {"log_loss", "rmse", "mae", "r2"}


def supports_bootstrap(metric: str) -> bool:
    """Whether `paired_bootstrap` has a vectorised path for `metric`."""
    return metric in _CONFUSION or metric in _ROWWISE or metric == "roc_auc"


def _codes(arrays: Sequence[Array], labels: Array) -> tuple[list[Array], int]:
    """Each array's values as label indices, and how many labels there are.

    Values outside `labels` (a prediction of a label the truth never holds) get
    indices of their own rather than being mistaken for a known label.
    """
    index: dict[Any, int] = {label: i for i, label in enumerate(labels.tolist())}
    coded = []
    for values in arrays:
        try:
            distinct, inverse = np.unique(values, return_inverse=True)
        except TypeError:  # labels of mixed types that do not sort
            distinct, inverse = values, np.arange(len(values))
        mapped = [index.setdefault(v, len(index)) for v in distinct.tolist()]
        coded.append(np.asarray(mapped, dtype=np.int64)[inverse.reshape(-1)])
    return coded, len(index)


def _confusion_scorer(metric: str, truth: Array, predicted: Array, k: int) -> Scorer:
    onehot = np.zeros((len(truth), k * k))
    onehot[np.arange(len(truth)), truth * k + predicted] = 1.0
    return lambda w: _confusion_scores(metric, w @ onehot, k)


def _true_columns(y_true: Array, proba: Array, labels: Array, metric: str) -> Array:
    """The column of `proba` holding each row's true label."""
    if proba.ndim != 2 or proba.shape != (len(y_true), len(labels)):
        raise DataError(
            f"{metric} needs probabilities of shape (rows, labels) = "
            f"({len(y_true)}, {len(labels)}); got {proba.shape}"
        )
    index = {label: i for i, label in enumerate(labels.tolist())}
    unknown = sorted({v for v in y_true.tolist() if v not in index}, key=str)
    if unknown:
        raise DataError(
            f"{metric} needs every true label among the probability columns "
            f"{labels.tolist()}; got {unknown[:5]}"
        )
    return np.array([index[v] for v in y_true.tolist()], dtype=np.int64)


def _rowwise_scorer(
    metric: str, y_true: Array, predicted: Array, proba: Array | None, labels: Array
) -> Scorer:
    """A function of a (resamples, rows) weight matrix giving the metric per resample."""
    if metric in ("log_loss", "roc_auc"):
        if proba is None:
            raise DataError(f"{metric} needs predicted probabilities")
        proba = np.asarray(proba, dtype=np.float64)
        if metric == "roc_auc":
            return _auc_scorer(y_true, proba, labels)
        column = _true_columns(y_true, proba, labels, metric)
        # scikit-learn clips to [eps, 1 - eps] of the probabilities' dtype
        eps = np.finfo(np.float64).eps
        chosen = np.clip(proba[np.arange(len(y_true)), column], eps, 1 - eps)
        loss = -np.log(chosen)
        return lambda w: np.asarray(w @ loss / w.sum(axis=1))
    y = y_true.astype(np.float64)
    error = predicted.astype(np.float64) - y
    if metric == "rmse":
        squared = error**2
        return lambda w: np.asarray(np.sqrt(w @ squared / w.sum(axis=1)))
    if metric == "mae":
        absolute = np.abs(error)
        return lambda w: np.asarray(w @ absolute / w.sum(axis=1))
    if metric == "r2":
        # Centring keeps sum(y²) - sum(y)²/n from cancelling away the variance of
        # large, tightly spread targets; the median is exact for a constant target.
        centred = y - np.median(y)
        stacked = np.stack([error**2, centred, centred**2], axis=1)

        def r2(w: Array) -> Array:
            sse, sy, syy = (w @ stacked).T
            sst = syy - sy**2 / w.sum(axis=1)
            varies = sst > 1e-12 * syy
            with np.errstate(divide="ignore", invalid="ignore"):
                # scikit-learn's force_finite: a constant truth scores 1 if matched, else 0
                return np.where(varies, 1.0 - sse / sst, np.where(sse == 0, 1.0, 0.0))

        return r2
    raise DataError(
        f"no bootstrap path for metric {metric!r}; "
        f"known: {', '.join(sorted(_CONFUSION | _ROWWISE | {'roc_auc'}))}"
    )


def _auc_scorer(y_true: Array, proba: Array, labels: Array) -> Scorer:
    """Weighted ROC AUC per resample (binary: Mann-Whitney on weights; one-vs-rest weighted).

    Binary scores are the second label's column; several labels are averaged one
    against the rest, weighted by true support, as scikit-learn's `average="weighted"`.
    """
    if proba.ndim != 2 or proba.shape != (len(y_true), len(labels)):
        raise DataError(
            f"roc_auc needs probabilities of shape (rows, labels) = "
            f"({len(y_true)}, {len(labels)}); got {proba.shape}"
        )
    scores = proba[:, 1:2] if len(labels) == 2 else proba
    classes = labels[1:] if len(labels) == 2 else labels
    tables = []
    for j, label in enumerate(classes.tolist()):
        s = scores[:, j]
        is_positive = np.asarray(y_true == label, dtype=bool)
        positives, negatives = np.flatnonzero(is_positive), np.flatnonzero(~is_positive)
        negatives = negatives[np.argsort(s[negatives], kind="mergesort")]
        ranked = s[negatives]
        # negatives scored below each positive, and below or tied with it
        below = np.searchsorted(ranked, s[positives], side="left")
        upto = np.searchsorted(ranked, s[positives], side="right")
        tables.append((positives, negatives, below, upto))

    def auc(w: Array) -> Array:
        results = []
        supports = []
        for positives, negatives, below, upto in tables:
            cumulative = np.zeros((w.shape[0], len(negatives) + 1))
            np.cumsum(w[:, negatives], axis=1, out=cumulative[:, 1:])
            pos_w = w[:, positives]
            # a tie counts half: (below + upto) / 2 negatives per positive
            pairs = 0.5 * (pos_w * (cumulative[:, below] + cumulative[:, upto])).sum(axis=1)
            total_pos, total_neg = pos_w.sum(axis=1), cumulative[:, -1]
            with np.errstate(divide="ignore", invalid="ignore"):
                results.append(pairs / (total_pos * total_neg))
            supports.append(total_pos)
        if len(results) == 1:
            return np.asarray(results[0])
        stacked, weight = np.stack(results, axis=1), np.stack(supports, axis=1)
        return np.asarray((stacked * weight).sum(axis=1) / weight.sum(axis=1))

    return auc


def _paired_scorers(
    metric: str,
    y: Array,
    baseline: tuple[Array, Array | None],
    candidate: tuple[Array, Array | None],
    labels: Array | None,
) -> tuple[Array, Array, Scorer, Scorer]:
    """Row groups for the resampling and each model's metric as a function of group weights.

    Returns (rows per group, each row's group, baseline scorer, candidate scorer); a
    resample's weight on a group is the sum of its rows' weights.
    """
    base_pred, cand_pred = np.asarray(baseline[0]), np.asarray(candidate[0])
    label_set = np.asarray(labels) if labels is not None else np.unique(y)
    if metric in _CONFUSION:
        (truth, b, c), k = _codes([y, base_pred, cand_pred], label_set)
        triples, group, counts = np.unique(
            (truth * k + b) * k + c, return_inverse=True, return_counts=True
        )
        truth, b, c = triples // (k * k), triples // k % k, triples % k
        base = _confusion_scorer(metric, truth, b, k)
        cand = _confusion_scorer(metric, truth, c, k)
        return counts, group.reshape(-1), base, cand
    base = _rowwise_scorer(metric, y, base_pred, baseline[1], label_set)
    cand = _rowwise_scorer(metric, y, cand_pred, candidate[1], label_set)
    return np.ones(len(y), dtype=np.int64), np.arange(len(y)), base, cand


def paired_bootstrap(
    metric: str,
    y_true: Array,
    baseline: tuple[Array, Array | None],
    candidate: tuple[Array, Array | None],
    labels: Array | None = None,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """A percentile interval of metric(candidate) - metric(baseline) over shared resamples.

    `baseline` and `candidate` are (predictions, probabilities or None); `labels`
    orders the probability columns (default: the sorted labels of `y_true`).
    Resamples on which the metric is undefined (e.g. AUC with one class drawn) are
    dropped; `resamples` in the result counts those that were kept.
    """
    y = np.asarray(y_true)
    base_pred, cand_pred = np.asarray(baseline[0]), np.asarray(candidate[0])
    if not len(y) == len(base_pred) == len(cand_pred) or len(y) == 0:
        raise DataError(
            "the paired bootstrap needs the same, non-zero number of rows for the truth and "
            f"both models' predictions; got {len(y)}, {len(base_pred)} and {len(cand_pred)}"
        )
    if resamples < 1:
        raise DataError(f"resamples must be at least 1; got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise DataError(f"confidence must be in (0, 1); got {confidence}")
    counts, _, base, cand = _paired_scorers(metric, y, baseline, candidate, labels)
    full = counts[None, :].astype(np.float64)
    point = float(cand(full)[0] - base(full)[0])
    rng = np.random.default_rng(seed)
    diffs = np.concatenate([cand(w) - base(w) for w in _weights(counts, resamples, rng)])
    diffs = diffs[np.isfinite(diffs)]
    tail = (1.0 - confidence) / 2
    low, high = (
        (float(np.quantile(diffs, tail)), float(np.quantile(diffs, 1 - tail)))
        if diffs.size
        else (float("nan"), float("nan"))
    )
    return BootstrapInterval(
        difference=point, low=low, high=high, confidence=confidence, resamples=int(diffs.size)
    )
