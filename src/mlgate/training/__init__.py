"""Training: from the config's estimator and the schema to a fitted model.

`estimator` resolves `model.estimator` by import path; `preprocessing` builds the
impute/scale/one-hot pipeline from the schema; `task` tells classification from
regression; `train` splits, cross-validates and fits.
"""

from mlgate.training.estimator import resolve_estimator
from mlgate.training.preprocessing import build_model, feature_kinds, prepare_features
from mlgate.training.task import Task, estimator_task, infer_task
from mlgate.training.train import CrossValidation, check_target, cross_validate, fit, split_holdout

__all__ = [
    "CrossValidation",
    "Task",
    "build_model",
    "check_target",
    "cross_validate",
    "estimator_task",
    "feature_kinds",
    "fit",
    "infer_task",
    "prepare_features",
    "resolve_estimator",
    "split_holdout",
]
