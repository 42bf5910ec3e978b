"""Model flavours: how a fitted model is written to files and built again from them.

Each flavour saves a fitted model into a folder and names the files it wrote;
loading gets those files' bytes only after their digests were checked
(`read_verified`), and builds the model from the same bytes. scikit-learn models
are one skops file; XGBoost and LightGBM estimators are written in their own
formats beside the skops file of the preprocessing around them
(`mlgate.registry.boosting`). No flavour ever unpickles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.errors import ArtifactError
from mlgate.registry.artifacts import ArtifactInfo, load_skops_bytes, save_skops
from mlgate.training.preprocessing import final_estimator

__all__ = [
    "MODEL_FILE",
    "SKLEARN",
    "Flavour",
    "flavour_for",
    "get_flavour",
    "read_verified",
    "register_flavour",
]

#: The skops file every bundle has: the whole model, or the preprocessing around it.
MODEL_FILE = "model.skops"
SKLEARN = "sklearn"


@dataclass(frozen=True)
class Flavour:
    """One way of saving models.

    `handles(estimator)` says whether the flavour saves a model whose final
    estimator is `estimator` (without importing the estimator's library);
    `save(model, folder)` writes the model and gives the names of the files it
    wrote, `MODEL_FILE` first; `load(files)` builds the model from those files'
    verified bytes, by name.
    """

    name: str
    handles: Callable[[Any], bool]
    save: Callable[[Any, Path], list[str]]
    load: Callable[[Mapping[str, bytes]], Any]


_FLAVOURS: dict[str, Flavour] = {}


def register_flavour(flavour: Flavour) -> Flavour:
    """Make `flavour` available by its name; a later one of the same name replaces it."""
    _FLAVOURS[flavour.name] = flavour
    return flavour


def get_flavour(name: str) -> Flavour:
    """The flavour called `name`, or an error listing those there are."""
    try:
        return _FLAVOURS[name]
    except KeyError:
        raise ArtifactError(
            f"unknown model flavour {name!r}; the flavours there are: "
            f"{', '.join(sorted(_FLAVOURS))}.",
            fix="Use the mlgate version that saved this model, or retrain it.",
        ) from None


def flavour_for(model: Any) -> Flavour:
    """The flavour that saves `model`: the first that handles its final estimator, else skops."""
    estimator = final_estimator(model)
    for flavour in _FLAVOURS.values():
        if flavour.name != SKLEARN and flavour.handles(estimator):
            return flavour
    return _FLAVOURS[SKLEARN]


def read_verified(folder: Path, files: list[ArtifactInfo]) -> dict[str, bytes]:
    """Each file's bytes by name, read once and checked against the digest recorded for it."""
    found: dict[str, bytes] = {}
    for info in files:
        path = folder / info.path
        if not path.is_file():
            raise ArtifactError("model file not found", path=path)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise ArtifactError(
                "the model file's sha256 does not match the one recorded when it was written; "
                "it was altered or replaced.",
                path=path,
                fix="Retrain it, or restore the original file.",
            )
        found[info.path] = data
    return found


def _save_skops(model: Any, folder: Path) -> list[str]:
    save_skops(model, folder / MODEL_FILE)
    return [MODEL_FILE]


def _load_skops(files: Mapping[str, bytes]) -> Any:
    return load_skops_bytes(files[MODEL_FILE], path=MODEL_FILE)


register_flavour(Flavour(SKLEARN, lambda _estimator: True, _save_skops, _load_skops))
