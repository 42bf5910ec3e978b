"""Training: estimator resolution, preprocessing, splits, cross-validation and fitting."""

from mlgate.training.estimator import resolve_estimator
from mlgate.training.preprocessing import build_model, feature_kinds, prepare_features
from mlgate.training.task import Task, infer_task
from mlgate.training.train import CrossValidation, check_target, cross_validate, fit, split_holdout

__all__ = [
    "CrossValidation",
    "Task",
    "build_model",
    "check_target",
    "cross_validate",
    "feature_kinds",
    "fit",
    "infer_task",
    "prepare_features",
    "resolve_estimator",
    "split_holdout",
]
