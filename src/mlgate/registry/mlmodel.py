"""An MLmodel for a version registered before mlgate wrote one, or with an older one.

Such a version loads and serves in mlgate as ever; MLflow's own loaders refuse it
('Could not find an "MLmodel" configuration file'). It is loaded as the gateway
loads it (every digest checked against the registry's) before anything is written;
the MLmodel and the files MLflow reads beside it are then written from those
verified files, pinned to the packages the version was trained with, and logged
into the version's folder of its run's artifacts (MLflow's artifact repository:
in place for a local registry, uploaded for a tracking server). The model's own
files and its card are never touched, so the digests the registry keeps still hold.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlgate.errors import RegistryError
from mlgate.registry._mlflow import TAG
from mlgate.registry._record import MLMODEL
from mlgate.registry.catalog import Catalog
from mlgate.registry.pyfunc import write_mlmodel
from mlgate.registry.refs import load_ref

__all__ = ["MlmodelAdded", "add_mlmodel"]

#: The version tag that says when (and by whom) the MLmodel was added.
ADDED_TAG = f"{TAG}mlmodel_added"


@dataclass(frozen=True)
class MlmodelAdded:
    """What `add_mlmodel` did: the files it logged, and whether they replaced an MLmodel."""

    name: str
    version: str
    files: list[str] = field(default_factory=list)
    replaced: bool = False

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def add_mlmodel(catalog: Catalog, name: str, version: str, *, force: bool = False) -> MlmodelAdded:
    """Give version `version` of `name` an MLmodel through which MLflow loads it with
    mlgate's verified loader; one that has an MLmodel is refused unless `force`."""
    info = catalog.version(name, version)
    had = MLMODEL in catalog.version_files(info)
    if had and not force:
        raise RegistryError(
            f"{name} version {info.version} already has an {MLMODEL} "
            f"({info.source.rstrip('/')}/{MLMODEL}), so MLflow loads it as it is.",
            fix="Pass --force to write it again (say, one an older mlgate wrote, whose "
            "signature gave labels only).",
        )
    loaded = load_ref(f"models:/{name}/{info.version}", catalog=catalog)
    with tempfile.TemporaryDirectory(prefix="mlgate-mlmodel-") as scratch:
        bundle = Path(scratch) / "model"
        shutil.copytree(loaded.folder, bundle)
        written = write_mlmodel(bundle, _packages(info.tags.get(f"{TAG}packages", "")))
        catalog.add_version_files(info, bundle, written)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    catalog.tag_version(info, ADDED_TAG, f"{stamp} by {catalog.actor}")
    return MlmodelAdded(name, info.version, written, replaced=had)


def _packages(tag: str) -> dict[str, str]:
    """The lineage's package versions as the version's tag keeps them: "numpy=2.1, ..."."""
    found: dict[str, str] = {}
    for item in tag.split(","):
        package, equals, pinned = item.strip().partition("=")
        if package and equals and pinned:
            found[package] = pinned
    return found
