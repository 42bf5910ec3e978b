"""The metric registry: every metric mlgate computes, by name and task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlgate.errors import ConfigError

__all__ = ["Metric", "available_metrics", "get_metric", "register_metric"]

Score = Callable[[Any, Any, Any, Any], float]


@dataclass(frozen=True)
class Metric:
    """A named score: `score(y_true, y_pred, proba, classes)`; `proba` is None without one."""

    name: str
    task: str
    score: Score
    greater_is_better: bool
    needs_proba: bool = False
    #: The largest value the metric can take (1.0 for shares such as accuracy), if any.
    at_most: float | None = None


_REGISTRY: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add a metric to the registry (a later one with the same name and task replaces it)."""
    _REGISTRY[f"{metric.task}:{metric.name}"] = metric
    return metric


def available_metrics(task: str) -> list[str]:
    """The names of the metrics registered for `task`, in registration order."""
    return [m.name for m in _REGISTRY.values() if m.task == task]


def get_metric(name: str, task: str) -> Metric:
    """The metric called `name` for `task`, or a ConfigError listing the ones there are."""
    found = _REGISTRY.get(f"{task}:{name}")
    if found is None:
        raise ConfigError(
            f"unknown {task} metric {name!r}.",
            allowed=", ".join(available_metrics(task)),
            show_value=False,
        )
    return found


def _averaged(fn_name: str, average: str) -> Score:
    def score(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
        import sklearn.metrics as m

        fn = getattr(m, fn_name)
        return float(fn(y_true, y_pred, average=average, zero_division=0))

    return score


def _accuracy(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def _balanced_accuracy(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def _roc_auc(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    present = np.unique(y_true)
    if len(present) < 2:
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y_true, proba[:, 1], labels=classes))
    if len(present) < len(classes):
        return float("nan")
    return float(
        roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=classes)
    )


def _log_loss(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y_true, proba, labels=classes))


def _rmse(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y_true, y_pred))


def _mae(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y_true, y_pred))


def _r2(y_true: Any, y_pred: Any, proba: Any, classes: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan")


for _metric in (
    Metric("accuracy", "classification", _accuracy, True, at_most=1.0),
    Metric("balanced_accuracy", "classification", _balanced_accuracy, True, at_most=1.0),
    Metric(
        "precision", "classification", _averaged("precision_score", "weighted"), True, at_most=1.0
    ),
    Metric("recall", "classification", _averaged("recall_score", "weighted"), True, at_most=1.0),
    Metric("f1", "classification", _averaged("f1_score", "weighted"), True, at_most=1.0),
    Metric(
        "precision_macro",
        "classification",
        _averaged("precision_score", "macro"),
        True,
        at_most=1.0,
    ),
    Metric("recall_macro", "classification", _averaged("recall_score", "macro"), True, at_most=1.0),
    Metric("f1_macro", "classification", _averaged("f1_score", "macro"), True, at_most=1.0),
    Metric("roc_auc", "classification", _roc_auc, True, needs_proba=True, at_most=1.0),
    Metric("log_loss", "classification", _log_loss, False, needs_proba=True),
    Metric("rmse", "regression", _rmse, False),
    Metric("mae", "regression", _mae, False),
    Metric("r2", "regression", _r2, True, at_most=1.0),
):
    register_metric(_metric)
