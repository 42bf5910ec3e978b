"""Evaluation: the metric registry, and scoring a fitted model.

`metrics` names every metric per task and lets users register their own;
`evaluate` scores a fitted model on held-out rows: metrics, per-slice metrics, latency.
"""

from mlgate.evaluation.evaluate import (
    EvaluationResult,
    Latency,
    SliceMetrics,
    evaluate_model,
    score,
)
from mlgate.evaluation.metrics import Metric, available_metrics, get_metric, register_metric

__all__ = [
    "EvaluationResult",
    "Latency",
    "Metric",
    "SliceMetrics",
    "available_metrics",
    "evaluate_model",
    "get_metric",
    "register_metric",
    "score",
]
