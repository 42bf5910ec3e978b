"""An MLmodel for a version registered before mlgate wrote one, or with an older one.

The version is loaded as the gateway loads it (every digest checked against the
registry's) before anything is written; the MLmodel and the files MLflow reads
beside it are then written from those verified files and logged into the
version's folder of the registry's store. The model's own files and its card are
never touched, so the digests the registry keeps still hold.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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
    """What `add_mlmodel` did: the files it logged (none when one was there and kept)."""

    name: str
    version: str
    files: list[str] = field(default_factory=list)
    replaced: bool = False

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def add_mlmodel(
    catalog: Catalog, name: str, version: str, *, replace: bool = False
) -> MlmodelAdded:
    """Give version `version` of `name` an MLmodel through which MLflow loads it with
    mlgate's verified loader; one it has already is kept unless `replace`."""
    info = catalog.version(name, version)
    had = MLMODEL in catalog.version_files(info)
    if had and not replace:
        return MlmodelAdded(name, info.version)
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
