"""Champion against candidate on the same rows: metrics, paired intervals, McNemar.

Computed from both models' answers only; scoring the models is the road's
(`mlgate.road.compare`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, Field

from mlgate.evaluation.evaluate import score
from mlgate.evaluation.importance import ImportanceChange
from mlgate.evaluation.metrics import get_metric
from mlgate.evaluation.slices import slice_masks
from mlgate.gates.absolute import GateResult
from mlgate.stats.paired import McNemarResult, mcnemar_exact, paired_bootstrap, supports_bootstrap

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Comparison",
    "MetricComparison",
    "Scores",
    "Side",
    "SliceComparison",
    "compare_predictions",
]

#: Fewest rows a slice needs before its metrics are compared.
MIN_SLICE_ROWS = 30


class MetricComparison(BaseModel):
    """One metric for both models and the paired interval of their difference."""

    metric: str
    baseline: float | None
    candidate: float | None
    difference: float | None = Field(description="candidate - baseline")
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    greater_is_better: bool
    p_value: float | None = Field(None, description="McNemar's exact test, for accuracy.")


class SliceComparison(BaseModel):
    """Both models on the rows where one column has one value."""

    column: str
    value: str
    rows: int
    metrics: dict[str, MetricComparison]


class Curves(BaseModel):
    """What the HTML report plots: confusion matrices, ROC curves or residuals, per model."""

    labels: list[str] = Field(default_factory=list)
    confusion: dict[str, list[list[int]]] = Field(default_factory=dict)
    roc: dict[str, dict[str, list[float]]] = Field(default_factory=dict)
    residuals: dict[str, dict[str, list[float]]] = Field(default_factory=dict)


#: Most points per model kept for ROC curves and residual plots.
CURVE_POINTS = 400


def _curves(task: str, y: Any, sides: dict[str, tuple[Any, Any]], labels: Any) -> Curves:
    import numpy as np
    from sklearn.metrics import confusion_matrix, roc_curve

    curves = Curves()
    if task == "classification":
        curves.labels = [str(v) for v in labels]
        for side, (predicted, proba) in sides.items():
            curves.confusion[side] = confusion_matrix(y, predicted, labels=labels).tolist()
            if proba is not None and len(labels) == 2 and len(np.unique(y)) == 2:
                fpr, tpr, _ = roc_curve(y, proba[:, 1], pos_label=labels[1])
                keep = np.unique(
                    np.linspace(0, len(fpr) - 1, min(len(fpr), CURVE_POINTS)).astype(int)
                )
                curves.roc[side] = {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}
        return curves
    rows = np.random.default_rng(0).permutation(len(y))[:CURVE_POINTS]
    for side, (predicted, _) in sides.items():
        p = np.asarray(predicted, dtype=float)[rows]
        curves.residuals[side] = {
            "predicted": p.tolist(),
            "residual": (np.asarray(y, dtype=float)[rows] - p).tolist(),
        }
    return curves


class Comparison(BaseModel):
    """The comparison file: the chapter's fields, plus intervals, tests and the verdict."""

    baseline: dict[str, float | None]
    new: dict[str, float | None]
    training_time: float | None = Field(description="Seconds the candidate's final fit took.")
    model_size_mb: float = Field(description="Size of the candidate's model file.")
    test_samples: int
    task: str
    baseline_ref: str
    candidate_ref: str
    data: str
    metrics: dict[str, MetricComparison]
    mcnemar: McNemarResult | None = None
    slices: list[SliceComparison] = Field(default_factory=list)
    curves: Curves | None = None
    importance: list[ImportanceChange] = Field(
        default_factory=list,
        description="The features whose permutation importance (each on its own held-out "
        "rows) moved most between baseline and candidate, largest move first.",
    )
    importance_score: str | None = Field(
        None, description="The score whose drop the importance measures."
    )
    verdict: GateResult | None = None


def _compare_metrics(
    task: str,
    y: Any,
    base: tuple[Any, Any],
    cand: tuple[Any, Any],
    labels: Any,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, MetricComparison]:
    base_scores = score(task, y, base[0], base[1], labels)
    cand_scores = score(task, y, cand[0], cand[1], labels)
    found: dict[str, MetricComparison] = {}
    for name in cand_scores:
        if name not in base_scores:
            continue
        b, c = base_scores[name], cand_scores[name]
        metric = get_metric(name, task)
        entry = MetricComparison(
            metric=name,
            baseline=b,
            candidate=c,
            difference=None if b is None or c is None else c - b,
            greater_is_better=metric.greater_is_better,
        )
        if entry.difference is not None and supports_bootstrap(name) and len(y) > 1:
            interval = paired_bootstrap(
                name, y, base, cand, labels, resamples=resamples, confidence=confidence, seed=seed
            )
            # every resample undefined (e.g. one class drawn each time): no interval, not NaN
            if interval.resamples:
                entry.ci_low, entry.ci_high = interval.low, interval.high
                entry.confidence = confidence
        found[name] = entry
    return found


class Scores(NamedTuple):
    """One model's answers on the compared rows: labels or values, and class probabilities."""

    predicted: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None = None


class Side(NamedTuple):
    """What the comparison file says of one model besides its scores."""

    ref: str
    training_time_s: float | None
    size_mb: float


def compare_predictions(
    task: str,
    y: np.ndarray[Any, Any],
    base: Scores,
    cand: Scores,
    *,
    labels: np.ndarray[Any, Any] | None,
    baseline: Side,
    candidate: Side,
    source: str,
    slices: dict[str, Any] | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Both models' answers on the same rows, compared pair by pair; `slices` maps a
    column name to its values on those rows."""
    metrics = _compare_metrics(
        task, y, base, cand, labels, resamples=resamples, confidence=confidence, seed=seed
    )
    mcnemar = None
    if task == "classification":
        mcnemar = mcnemar_exact(base.predicted == y, cand.predicted == y)
        if "accuracy" in metrics:
            metrics["accuracy"].p_value = mcnemar.p_value
    found = [
        SliceComparison(
            column=column,
            value=str(value),
            rows=int(mask.sum()),
            metrics=_compare_metrics(
                task,
                y[mask],
                _rows(base, mask),
                _rows(cand, mask),
                labels,
                resamples=min(resamples, max(resamples // 4, 200)),
                confidence=confidence,
                seed=seed,
            ),
        )
        for column, values in (slices or {}).items()
        for value, mask in slice_masks(values)
        if mask.sum() >= MIN_SLICE_ROWS
    ]

    def side(model: Side, which: str) -> dict[str, float | None]:
        values = {name: getattr(m, which) for name, m in metrics.items()}
        return values | {"training_time": model.training_time_s, "model_size_mb": model.size_mb}

    return Comparison(
        baseline=side(baseline, "baseline"),
        new=side(candidate, "candidate"),
        training_time=candidate.training_time_s,
        model_size_mb=candidate.size_mb,
        test_samples=len(y),
        task=task,
        baseline_ref=baseline.ref,
        candidate_ref=candidate.ref,
        data=source,
        metrics=metrics,
        mcnemar=mcnemar,
        slices=found,
        curves=_curves(task, y, {"baseline": base, "candidate": cand}, labels),
    )


def _rows(scores: Scores, mask: np.ndarray[Any, Any]) -> Scores:
    return Scores(scores.predicted[mask], None if scores.proba is None else scores.proba[mask])
