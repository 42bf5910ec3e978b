"""Evaluation: the metric registry and scoring a model on held-out data."""

from mlgate.evaluation.evaluate import EvaluationResult, Latency, SliceMetrics, evaluate_model
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
]
