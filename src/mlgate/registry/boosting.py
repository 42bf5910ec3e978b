"""XGBoost, LightGBM and CatBoost flavours: the estimator in its library's own safe format.

The preprocessing pipeline around the estimator stays in skops (`model.skops`,
its last step left as "passthrough"); the estimator is written with XGBoost's
JSON `save_model`, LightGBM's model text or CatBoost's binary `cbm`, never
pickled, and `estimator.json` keeps its class and plain parameters (and, for
LightGBM, what its scikit-learn wrapper learned besides the booster: classes and
input width). Loading builds
the estimator from the verified bytes and puts it back as the pipeline's last step.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlgate.errors import ArtifactError
from mlgate.registry.artifacts import load_skops_bytes, save_skops
from mlgate.registry.flavours import MODEL_FILE, Flavour, register_flavour

__all__ = [
    "CATBOOST",
    "CATBOOST_FILE",
    "ESTIMATOR_FILE",
    "LIGHTGBM",
    "LIGHTGBM_FILE",
    "XGBOOST",
    "XGBOOST_FILE",
]

ESTIMATOR_FILE = "estimator.json"
XGBOOST_FILE = "model.xgb.json"
LIGHTGBM_FILE = "model.lgb.txt"
CATBOOST_FILE = "model.cbm"

_XGBOOST_CLASSES = frozenset({"XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor"})
_LIGHTGBM_CLASSES = frozenset({"LGBMClassifier", "LGBMRegressor"})
_CATBOOST_CLASSES = frozenset({"CatBoostClassifier", "CatBoostRegressor"})


def _library(name: str) -> Any:
    """The estimator library `name`, or an install hint when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ArtifactError(
            f"this model was saved by {name}, which is not installed ({e}).",
            fix=f"pip install 'mlgate[{name}]'",
        ) from e


def _handles(library: str, classes: frozenset[str]) -> Any:
    def handles(estimator: Any) -> bool:
        kind = type(estimator)
        return kind.__module__.partition(".")[0] == library and kind.__name__ in classes

    return handles


def _split(model: Any) -> tuple[Any, Any]:
    """The pipeline with its final step left as "passthrough", and that final estimator.

    Nested pipelines (the user's own `model.pipeline` inside the schema's) are
    copied down to the estimator, which is replaced in the innermost one.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return Pipeline([("model", "passthrough")]), model
    name, last = model.steps[-1]
    if isinstance(last, Pipeline):
        inner, estimator = _split(last)
        return Pipeline([*model.steps[:-1], (name, inner)]), estimator
    return Pipeline([*model.steps[:-1], (name, "passthrough")]), last


def _splice(files: Mapping[str, bytes], estimator: Any) -> Any:
    from sklearn.pipeline import Pipeline

    pipeline = load_skops_bytes(files[MODEL_FILE], path=MODEL_FILE)
    innermost = pipeline
    while isinstance(innermost.steps[-1][1], Pipeline):
        innermost = innermost.steps[-1][1]
    name, _ = innermost.steps[-1]
    innermost.steps[-1] = (name, estimator)
    return pipeline


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _params(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters that JSON holds as they are (callables and objects are not)."""
    return {
        key: value
        for key, value in estimator.get_params(deep=False).items()
        if value is None or isinstance(value, str | int | float | bool)
    }


def _write_meta(folder: Path, estimator: Any, **extra: Any) -> None:
    meta = {"class": type(estimator).__name__, "params": _params(estimator)} | extra
    (folder / ESTIMATOR_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _read_meta(files: Mapping[str, bytes], library: Any, classes: frozenset[str]) -> Any:
    """The estimator.json mapping and the class it names, one of `classes` only."""
    try:
        meta = json.loads(files[ESTIMATOR_FILE])
        name = meta["class"]
        params = dict(meta["params"])
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{ESTIMATOR_FILE} is damaged ({e}).", path=ESTIMATOR_FILE) from e
    if name not in classes:
        raise ArtifactError(
            f"{ESTIMATOR_FILE} names {name!r}, which this flavour does not load.",
            path=ESTIMATOR_FILE,
            fix=f"Only {', '.join(sorted(classes))} are loaded; retrain the model.",
        )
    return meta, getattr(library, name)(**params)


def _save_xgboost(model: Any, folder: Path) -> list[str]:
    pipeline, estimator = _split(model)
    save_skops(pipeline, folder / MODEL_FILE)
    estimator.save_model(folder / XGBOOST_FILE)
    _write_meta(folder, estimator)
    return [MODEL_FILE, XGBOOST_FILE, ESTIMATOR_FILE]


def _load_xgboost(files: Mapping[str, bytes]) -> Any:
    _, estimator = _read_meta(files, _library("xgboost"), _XGBOOST_CLASSES)
    estimator.load_model(bytearray(files[XGBOOST_FILE]))
    return _splice(files, estimator)


def _save_lightgbm(model: Any, folder: Path) -> list[str]:
    pipeline, estimator = _split(model)
    save_skops(pipeline, folder / MODEL_FILE)
    estimator.booster_.save_model(folder / LIGHTGBM_FILE)
    classes = getattr(estimator, "classes_", None)
    _write_meta(
        folder,
        estimator,
        objective=estimator._objective if isinstance(estimator._objective, str) else None,
        classes=None if classes is None else [_plain(c) for c in classes],
        n_features_in=int(estimator.n_features_in_),
        feature_names=bool(estimator._fitted_with_feature_names),
    )
    return [MODEL_FILE, LIGHTGBM_FILE, ESTIMATOR_FILE]


def _load_lightgbm(files: Mapping[str, bytes]) -> Any:
    """The LightGBM estimator with its booster and the state its fit would have left.

    LightGBM has no loader for its scikit-learn wrappers, so the attributes
    `LGBMModel.fit` sets are set here; the tests check that predictions agree.
    """
    import numpy as np

    lightgbm = _library("lightgbm")
    meta, estimator = _read_meta(files, lightgbm, _LIGHTGBM_CLASSES)
    try:
        booster = lightgbm.Booster(model_str=files[LIGHTGBM_FILE].decode("utf-8"))
    except Exception as e:  # LightGBM raises its own error on text it cannot parse
        raise ArtifactError(f"not a LightGBM model ({e}).", path=LIGHTGBM_FILE) from e
    estimator._Booster = booster
    estimator._objective = meta.get("objective")
    estimator._n_features = booster.num_feature()
    estimator._n_features_in = int(meta["n_features_in"])
    estimator._fitted_with_feature_names = bool(meta.get("feature_names"))
    estimator._best_iteration = booster.best_iteration
    estimator._best_score = {}
    estimator._evals_result = {}
    if meta.get("classes") is not None:
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder().fit(np.asarray(meta["classes"]))
        estimator._le = encoder
        estimator._classes = encoder.classes_
        estimator._n_classes = len(encoder.classes_)
    estimator.fitted_ = True
    return _splice(files, estimator)


def _save_catboost(model: Any, folder: Path) -> list[str]:
    pipeline, estimator = _split(model)
    save_skops(pipeline, folder / MODEL_FILE)
    estimator.save_model(str(folder / CATBOOST_FILE), format="cbm")
    _write_meta(folder, estimator)
    return [MODEL_FILE, CATBOOST_FILE, ESTIMATOR_FILE]


def _load_catboost(files: Mapping[str, bytes]) -> Any:
    """The CatBoost estimator from its own binary format (`cbm`), read from checked bytes."""
    _, estimator = _read_meta(files, _library("catboost"), _CATBOOST_CLASSES)
    try:
        estimator.load_model(blob=files[CATBOOST_FILE])
    except Exception as e:  # CatBoost raises its own CatBoostError on bytes it cannot read
        raise ArtifactError(f"not a CatBoost model ({e}).", path=CATBOOST_FILE) from e
    return _splice(files, estimator)


XGBOOST = register_flavour(
    Flavour("xgboost", _handles("xgboost", _XGBOOST_CLASSES), _save_xgboost, _load_xgboost)
)
LIGHTGBM = register_flavour(
    Flavour("lightgbm", _handles("lightgbm", _LIGHTGBM_CLASSES), _save_lightgbm, _load_lightgbm)
)
CATBOOST = register_flavour(
    Flavour("catboost", _handles("catboost", _CATBOOST_CLASSES), _save_catboost, _load_catboost)
)
