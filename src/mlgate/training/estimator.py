"""Turning `model.estimator` and `model.params` into an estimator, or saying why not."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from mlgate.config.models import ModelConfig
from mlgate.errors import ConfigError

__all__ = ["resolve_estimator"]


def _import(path: str, file: Path | None) -> type[Any]:
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            f"cannot import module {module_name!r} ({e})",
            file=file,
            field="model.estimator",
            value=path,
            fix="Check the spelling, or install the package that provides it.",
        ) from e
    found = getattr(module, class_name, None)
    if found is None:
        raise ConfigError(
            f"module {module_name!r} has no attribute {class_name!r}",
            file=file,
            field="model.estimator",
            value=path,
            fix="Check the class name's spelling and case.",
        )
    if not inspect.isclass(found) or not all(hasattr(found, m) for m in ("fit", "predict")):
        raise ConfigError(
            "is not a scikit-learn-compatible estimator class (it needs fit and predict)",
            file=file,
            field="model.estimator",
            value=path,
        )
    return found


def resolve_estimator(model: ModelConfig, *, seed: int, file: Path | None = None) -> Any:
    """A new, unfitted estimator built from the config, its params checked before any fit."""
    cls = _import(model.estimator, file)
    name = cls.__name__
    try:
        accepted = set(cls().get_params(deep=False))
    except Exception:  # an estimator without defaults: let the constructor judge
        accepted = None
    if accepted is not None:
        for key in model.params:
            if key not in accepted:
                raise ConfigError(
                    f"{name} has no parameter {key!r}",
                    file=file,
                    field=f"model.params.{key}",
                    allowed=", ".join(sorted(accepted)),
                    show_value=False,
                )
    params = dict(model.params)
    if accepted and "random_state" in accepted and "random_state" not in params:
        params["random_state"] = seed
    try:
        estimator = cls(**params)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{name} rejects its params: {e}", file=file, field="model.params") from e
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate):
        try:
            validate()
        except (TypeError, ValueError) as e:
            message = str(e)
            field = "model.params"
            for key in params:
                if f"'{key}' parameter" in message:
                    field = f"model.params.{key}"
            raise ConfigError(message, file=file, field=field) from e
    return estimator
