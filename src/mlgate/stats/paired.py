"""Paired statistics on two models' predictions for the same rows.

The bootstrap resamples rows once and scores both models on each resample, so
the interval is of the *difference* on shared rows, which is far tighter than
comparing two independent intervals. Resamples are drawn as multinomial count
weights, so every metric built from per-row sums (accuracy, precision, recall,
F1 from confusion counts; log loss, RMSE, MAE, R²) is one matrix product per
chunk of resamples instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

__all__ = [
    "BootstrapInterval",
    "McNemarResult",
    "mcnemar_exact",
    "paired_bootstrap",
    "supports_bootstrap",
]

#: Resamples scored per matrix product; bounds memory at CHUNK × rows weights.
CHUNK = 200

Array = np.ndarray[Any, Any]


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
    b = int(np.sum(base & ~cand))
    c = int(np.sum(~base & cand))
    p = 1.0 if b + c == 0 else float(binomtest(c, b + c, 0.5).pvalue)
    return McNemarResult(baseline_only=b, candidate_only=c, p_value=p)


def _weights(rows: int, resamples: int, rng: np.random.Generator) -> Any:
    done = 0
    while done < resamples:
        size = min(CHUNK, resamples - done)
        yield rng.multinomial(rows, np.full(rows, 1.0 / rows), size=size).astype(np.float64)
        done += size


def _confusion_scores(name: str, counts: Array, k: int) -> Array:
    """A classification metric for each resample from its (resamples, k, k) confusion counts."""
    cm = counts.reshape(-1, k, k)
    total = cm.sum(axis=(1, 2))
    true_k = cm.sum(axis=2)
    pred_k = cm.sum(axis=1)
    hits = np.diagonal(cm, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_k > 0, hits / pred_k, 0.0)
        recall = np.where(true_k > 0, hits / true_k, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if name == "accuracy":
        return np.asarray(hits.sum(axis=1) / total)
    per_class = {"precision": precision, "recall": recall, "f1": f1}
    base, _, average = name.partition("_")
    if name == "balanced_accuracy":
        present = true_k > 0
        return np.asarray(np.where(present, recall, 0).sum(axis=1) / present.sum(axis=1))
    values = per_class[base]
    if average == "macro":
        present = (true_k > 0) | (pred_k > 0)
        return np.asarray(np.where(present, values, 0).sum(axis=1) / present.sum(axis=1))
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


def _scorer(
    metric: str, y_true: Array, predicted: Array, proba: Array | None, labels: Array
) -> Callable[[Array], Array]:
    """A function of a (resamples, rows) weight matrix giving the metric per resample."""
    n = len(y_true)
    if metric in _CONFUSION:
        k = len(labels)
        index = {label: i for i, label in enumerate(labels.tolist())}
        t = np.array([index[v] for v in y_true.tolist()])
        p = np.array([index.get(v, 0) for v in predicted.tolist()])
        onehot = np.zeros((n, k * k))
        onehot[np.arange(n), t * k + p] = 1.0
        return lambda w: _confusion_scores(metric, w @ onehot, k)
    if metric in ("log_loss", "roc_auc") and proba is None:
        raise ValueError(f"{metric} needs predicted probabilities")
    if metric == "log_loss":
        assert proba is not None  # for the type checker: tested just above
        index = {label: i for i, label in enumerate(labels.tolist())}
        chosen = proba[np.arange(n), [index[v] for v in y_true.tolist()]]
        loss = -np.log(np.clip(chosen, 1e-15, 1.0))
        return lambda w: np.asarray(w @ loss / n)
    y = y_true.astype(np.float64)
    error = predicted.astype(np.float64) - y
    if metric == "rmse":
        squared = error**2
        return lambda w: np.asarray(np.sqrt(w @ squared / n))
    if metric == "mae":
        absolute = np.abs(error)
        return lambda w: np.asarray(w @ absolute / n)
    if metric == "r2":
        stacked = np.stack([error**2, y, y**2], axis=1)

        def r2(w: Array) -> Array:
            sse, sy, syy = (w @ stacked).T
            sst = syy - sy**2 / n
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.asarray(1.0 - sse / sst)

        return r2
    if metric == "roc_auc":
        return _auc_scorer(y_true, proba, labels)
    raise ValueError(f"no bootstrap path for metric {metric!r}")


def _auc_scorer(y_true: Array, proba: Array | None, labels: Array) -> Callable[[Array], Array]:
    """Weighted ROC AUC per resample (binary: Mann-Whitney on weights; one-vs-rest weighted)."""
    if proba is None:
        raise ValueError("roc_auc needs predicted probabilities")
    scores = proba[:, 1:2] if len(labels) == 2 else proba
    classes = labels[1:] if len(labels) == 2 else labels
    tables = []
    for j, label in enumerate(classes.tolist()):
        s = scores[:, j]
        order = np.argsort(s, kind="mergesort")
        ranks_sorted = s[order]
        positive = (y_true == label)[order]
        # group ties: rows with equal scores share one tie group
        group = np.concatenate([[0], np.cumsum(ranks_sorted[1:] != ranks_sorted[:-1])])
        tables.append((order, positive, group))

    def auc(w: Array) -> Array:
        results = []
        supports = []
        for order, positive, group in tables:
            ws = w[:, order]
            pos = ws * positive
            neg = ws * ~positive
            groups = int(group[-1]) + 1
            pos_g = np.zeros((w.shape[0], groups))
            neg_g = np.zeros((w.shape[0], groups))
            np.add.at(pos_g.T, group, pos.T)
            np.add.at(neg_g.T, group, neg.T)
            neg_below = np.cumsum(neg_g, axis=1) - neg_g
            pairs = (pos_g * (neg_below + 0.5 * neg_g)).sum(axis=1)
            total_pos, total_neg = pos_g.sum(axis=1), neg_g.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                results.append(pairs / (total_pos * total_neg))
            supports.append(total_pos)
        if len(results) == 1:
            return np.asarray(results[0])
        stacked, weight = np.stack(results, axis=1), np.stack(supports, axis=1)
        return np.asarray((stacked * weight).sum(axis=1) / weight.sum(axis=1))

    return auc


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

    `baseline` and `candidate` are (predictions, probabilities or None).
    """
    y = np.asarray(y_true)
    label_set = np.asarray(labels) if labels is not None else np.unique(y)
    base = _scorer(metric, y, np.asarray(baseline[0]), baseline[1], label_set)
    cand = _scorer(metric, y, np.asarray(candidate[0]), candidate[1], label_set)
    full = np.ones((1, len(y)))
    point = float(cand(full)[0] - base(full)[0])
    rng = np.random.default_rng(seed)
    diffs = np.concatenate([cand(w) - base(w) for w in _weights(len(y), resamples, rng)])
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
