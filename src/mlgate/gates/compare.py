"""Champion against candidate on the same rows: metrics, paired intervals, McNemar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlgate.errors import DataError
from mlgate.evaluation.evaluate import score
from mlgate.evaluation.metrics import get_metric
from mlgate.gates.absolute import GateResult
from mlgate.stats.paired import McNemarResult, mcnemar_exact, paired_bootstrap, supports_bootstrap

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlgate.registry.refs import LoadedModel

__all__ = ["Comparison", "MetricComparison", "SliceComparison", "compare_models"]

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
    verdict: GateResult | None = None


class _Scored:
    def __init__(self, loaded: LoadedModel, frame: pd.DataFrame, source: str) -> None:
        from mlgate.training.preprocessing import prepare_features

        missing = [f for f in loaded.card.features if f not in frame.columns]
        if missing:
            raise DataError(
                f"the data lacks feature column(s) of {loaded.ref}: {', '.join(missing)}.",
                source=source,
            )
        X = prepare_features(frame, loaded.card.kinds)
        self.predicted = loaded.model.predict(X)
        self.proba: np.ndarray[Any, Any] | None = None
        if loaded.card.task == "classification" and hasattr(loaded.model, "predict_proba"):
            try:
                self.proba = loaded.model.predict_proba(X)
            except (AttributeError, NotImplementedError):
                self.proba = None


def _check_pair(
    baseline: LoadedModel, candidate: LoadedModel, frame: pd.DataFrame, source: str
) -> None:
    b, c = baseline.card, candidate.card
    if b.task != c.task:
        raise DataError(
            f"cannot compare a {b.task} model ({baseline.ref}) with a {c.task} model "
            f"({candidate.ref})."
        )
    if b.target != c.target:
        raise DataError(
            f"the models predict different targets: {b.target!r} ({baseline.ref}) and "
            f"{c.target!r} ({candidate.ref})."
        )
    if b.task == "classification" and sorted(map(str, b.classes or [])) != sorted(
        map(str, c.classes or [])
    ):
        raise DataError(
            f"the models know different label sets: {b.classes} ({baseline.ref}) and "
            f"{c.classes} ({candidate.ref}).",
            fix="Compare models trained on the same labels.",
        )
    if c.target not in frame.columns:
        raise DataError(f"the data has no target column {c.target!r}.", source=source)
    truth = frame[c.target]
    if truth.isna().any():
        raise DataError(
            f"the target column {c.target!r} is missing in {int(truth.isna().sum())} of "
            f"{len(truth)} row(s).",
            source=source,
            fix="Compare on labelled rows only.",
        )
    if c.task == "classification" and c.classes is not None:
        unseen = truth[~truth.isin(c.classes)]
        if len(unseen):
            shown = ", ".join(repr(v) for v in sorted(unseen.unique(), key=str)[:5])
            raise DataError(
                f"the target holds label(s) neither model was trained on: {shown} "
                f"({len(unseen)} of {len(truth)} rows); they know "
                f"{', '.join(map(repr, c.classes))}.",
                source=source,
                fix="Compare on data labelled like the training data.",
            )


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


def compare_models(
    baseline: LoadedModel,
    candidate: LoadedModel,
    frame: pd.DataFrame,
    *,
    source: str,
    slices: list[str] | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Score both models on `frame`'s rows and compare them pair by pair."""
    import numpy as np

    _check_pair(baseline, candidate, frame, source)
    if frame.empty:
        raise DataError("the comparison data has no rows.", source=source)
    task = candidate.card.task
    y = frame[candidate.card.target].to_numpy()
    labels = np.asarray(candidate.card.classes) if candidate.card.classes else None
    b, c = _Scored(baseline, frame, source), _Scored(candidate, frame, source)
    base, cand = (b.predicted, b.proba), (c.predicted, c.proba)
    metrics = _compare_metrics(
        task, y, base, cand, labels, resamples=resamples, confidence=confidence, seed=seed
    )
    mcnemar = None
    if task == "classification":
        mcnemar = mcnemar_exact(b.predicted == y, c.predicted == y)
        if "accuracy" in metrics:
            metrics["accuracy"].p_value = mcnemar.p_value
    found: list[SliceComparison] = []
    for column in slices or []:
        if column not in frame.columns:
            raise DataError(f"slice column {column!r} is not in the data.", source=source)
        values = frame[column].astype(object).where(frame[column].notna(), "(missing)")
        for value in sorted(values.unique(), key=str):
            mask = (values == value).to_numpy()
            if mask.sum() < MIN_SLICE_ROWS:
                continue
            found.append(
                SliceComparison(
                    column=column,
                    value=str(value),
                    rows=int(mask.sum()),
                    metrics=_compare_metrics(
                        task,
                        y[mask],
                        (base[0][mask], None if base[1] is None else base[1][mask]),
                        (cand[0][mask], None if cand[1] is None else cand[1][mask]),
                        labels,
                        resamples=min(resamples, max(resamples // 4, 200)),
                        confidence=confidence,
                        seed=seed,
                    ),
                )
            )

    def side(loaded: LoadedModel, which: str) -> dict[str, float | None]:
        values = {name: getattr(m, which) for name, m in metrics.items()}
        return values | {"training_time": loaded.training_time_s, "model_size_mb": loaded.size_mb}

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
