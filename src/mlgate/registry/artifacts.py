"""Model artifacts that are safe to load: skops with trusted types only, sha256 checked."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mlgate.errors import ArtifactError

__all__ = ["ArtifactInfo", "load_skops", "load_skops_bytes", "save_skops", "sha256_file"]

#: Plain containers skops may list as untrusted though they run no code.
TRUSTED_TYPES = frozenset(
    {"collections.OrderedDict", "collections.defaultdict", "collections.Counter"}
)
#: scikit-learn's modules whose classes hold a fitted estimator's state (trees, their
#: predictors, neighbour indexes, distance metrics, losses); beside these, only estimators
#: (BaseEstimator subclasses) are loaded from scikit-learn.
SKLEARN_STATE_MODULES = frozenset(
    {
        "sklearn.tree._tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor",
        "sklearn.ensemble._hist_gradient_boosting.binning",
        "sklearn.neighbors._kd_tree",
        "sklearn.neighbors._ball_tree",
        "sklearn.metrics._dist_metrics",
        "sklearn._loss.loss",
        "sklearn._loss.link",
    }
)
#: scikit-learn's functions a model may hold as a parameter (SelectKBest's and
#: SelectPercentile's score functions): they compute statistics of arrays and nothing else.
SKLEARN_FUNCTIONS = frozenset(
    f"sklearn.feature_selection.{module}.{name}"
    for module, names in {
        "_univariate_selection": ("f_classif", "f_regression", "r_regression", "chi2"),
        "_mutual_info": ("mutual_info_classif", "mutual_info_regression"),
    }.items()
    for name in names
)
#: NumPy's random state, by name; its other classes are dtypes and scalar types only.
NUMPY_TYPES = frozenset(
    {
        "numpy.dtype",
        "numpy.random.RandomState",
        "numpy.random.Generator",
        "numpy.random.SeedSequence",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
    }
)


def _trusted(name: str) -> bool:
    """Whether the type `name` (module.Qualified.Name) is on the explicit list: a scikit-learn
    estimator or state class, a NumPy dtype, scalar type or random state, a SciPy sparse
    matrix, or a class from the code of the version being loaded (mlgate.registry.code).

    Whole packages are not trusted: a class is also a callable, and `numpy.memmap` named
    as a FunctionTransformer's function opens files when the model runs.
    """
    from mlgate.registry.code import trusted_modules

    if name in TRUSTED_TYPES or name in NUMPY_TYPES or name in SKLEARN_FUNCTIONS:
        return True
    module_name, _, attribute = name.rpartition(".")
    if module_name in trusted_modules():
        return inspect.isclass(_attribute(sys.modules.get(module_name), attribute))
    package = module_name.split(".")[0]
    if package not in ("sklearn", "numpy", "scipy"):
        return False
    try:
        found = _attribute(importlib.import_module(module_name), attribute)
    except ImportError:
        return False
    if not inspect.isclass(found):
        return False
    if package == "sklearn":
        from sklearn.base import BaseEstimator

        return module_name in SKLEARN_STATE_MODULES or issubclass(found, BaseEstimator)
    if package == "numpy":
        import numpy as np

        return issubclass(found, np.generic | np.dtype)
    from scipy import sparse

    return module_name.startswith("scipy.sparse") and issubclass(
        found, sparse.spmatrix | sparse.sparray
    )


def _attribute(found: object, dotted: str) -> object:
    for part in dotted.split("."):
        found = getattr(found, part, None)
    return found


class ArtifactInfo(BaseModel):
    """Where an artifact is, its digest and size."""

    path: str
    sha256: str
    size_bytes: int


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def save_skops(model: Any, path: Path) -> ArtifactInfo:
    """Write `model` with skops (never pickle) and give back its digest and size."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    return ArtifactInfo(path=str(path), sha256=sha256_file(path), size_bytes=path.stat().st_size)


def load_skops(path: Path, *, sha256: str | None = None) -> Any:
    """The model in a skops file, after checking its digest and that every type is trusted."""
    if not path.is_file():
        raise ArtifactError("model file not found", path=path)
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError(
            "the model file's sha256 does not match the one recorded when it was written; "
            "it was altered or replaced.",
            path=path,
            fix="Retrain it, or restore the original file.",
        )
    return load_skops_bytes(data, path=path)


#: Libraries whose estimators have a format of their own (mlgate.registry.boosting).
_OWN_FORMATS = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}


def _untrusted_fix(refused: list[str]) -> str:
    """What to do about `refused` types: a booster is saved in its own format only as the
    model's final estimator; anything else comes from the team's code."""
    libraries = sorted(
        {_OWN_FORMATS[t.partition(".")[0]] for t in refused if t.partition(".")[0] in _OWN_FORMATS}
    )
    if libraries:
        return (
            f"{' and '.join(libraries)} estimators are saved in their own format when they are "
            "the model's final estimator (model.estimator, or the last step of "
            "model.pipeline); one anywhere else, e.g. inside a VotingClassifier or "
            "StackingClassifier, cannot be stored safely. Make it the final estimator, or "
            "use a scikit-learn estimator in its place, and train again."
        )
    return (
        "Only scikit-learn estimators and their state, its feature-selection score "
        "functions, NumPy dtypes, scalars, ufuncs and random state, SciPy sparse matrices, "
        "and the classes of the files listed under model.code (stored with the version) are "
        "loaded from model files. For your own classes, list the module that defines them "
        "under model.code; for another function, wrap it in a class of your own module; then "
        "train again."
    )


def load_skops_bytes(data: bytes, *, path: str | Path) -> Any:
    """The model in skops `data` (read from `path`), if every type in it is trusted."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as e:  # skops raises several kinds on a file that is not its own
        raise ArtifactError(f"not a readable skops file ({e}).", path=path) from e
    refused = sorted(t for t in untrusted if not _trusted(t))
    if refused:
        raise ArtifactError(
            f"refusing to load a model file that contains untrusted type(s): {', '.join(refused)}.",
            path=path,
            fix=_untrusted_fix(refused),
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except Exception as e:
        raise ArtifactError(f"cannot load the model ({e})", path=path) from e
