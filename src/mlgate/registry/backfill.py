"""An MLmodel for a version registered before mlgate wrote one.

Such a version loads and serves in mlgate as ever; MLflow's own loaders refuse it
("Could not find an MLmodel configuration file"). Its files are checked (every sha256
its card records, and the card's against the registry's), then the MLmodel and the
files MLflow reads beside it are written as `mlgate run` writes them today, pinned to
the packages the version was trained with, and stored beside the version's files in
the registry: in place for a local registry, uploaded to the version's run otherwise.
Nothing of the version's own files changes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel

from mlgate.errors import ArtifactError, RegistryError
from mlgate.registry._record import MLMODEL
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.bundle import CARD_FILE, load_bundle
from mlgate.registry.catalog import Catalog
from mlgate.registry.pyfunc import write_mlmodel

__all__ = ["AddedMLmodel", "add_mlmodel"]


class AddedMLmodel(BaseModel):
    """What was written for a version, and where."""

    name: str
    version: str
    files: list[str]
    location: str


def add_mlmodel(catalog: Catalog, name: str, version: str, *, force: bool = False) -> AddedMLmodel:
    """Write the MLmodel of version `version` of `name` into the registry; what was written."""
    info = catalog.version(name, version)
    folder = catalog.local_path(info)
    if (folder / MLMODEL).exists() and not force:
        raise RegistryError(
            f"version {version} of {name!r} already has an {MLMODEL}.",
            fix="MLflow loads it as it is; pass --force to write it again.",
        )
    if info.card_sha256 and sha256_file(folder / CARD_FILE) != info.card_sha256:
        raise ArtifactError(
            "the model card's sha256 does not match the one the registry recorded; the "
            "version's files were altered or replaced.",
            path=folder / CARD_FILE,
            fix="Restore the version's files, or register the model again with `mlgate run`.",
        )
    load_bundle(folder)  # every file its card names, checked (raises, naming the file)
    packages = _packages(info.tags.get("mlgate.packages", ""))
    with tempfile.TemporaryDirectory(prefix="mlgate-backfill-") as scratch:
        work = Path(scratch) / "model"
        shutil.copytree(folder, work)
        files = write_mlmodel(work, packages)
        if info.source.startswith("file://"):
            for file in files:
                shutil.copyfile(work / file, folder / file)
            location = str(folder)
        else:
            location = _upload(catalog, info.run_id, info.source, work, files)
            for file in files:  # the local copy too, so this process sees it at once
                shutil.copyfile(work / file, folder / file)
    return AddedMLmodel(name=name, version=version, files=files, location=location)


def _packages(text: str) -> dict[str, str]:
    """The `name=version, ...` of the version's `mlgate.packages` tag."""
    pairs = (item.strip().partition("=") for item in text.split(",") if "=" in item)
    return {name.strip(): pinned.strip() for name, _, pinned in pairs}


def _upload(catalog: Catalog, run_id: str | None, source: str, work: Path, files: list[str]) -> str:
    """Upload `files` from `work` to where the version's source lies in its run's artifacts."""
    client = catalog.client
    if run_id is None:
        raise RegistryError(
            f"the version's files ({source}) belong to no run this registry knows, so the "
            f"{MLMODEL} cannot be stored beside them.",
            fix="Register the model again with `mlgate run`.",
        )
    root = client.get_run(run_id).info.artifact_uri.rstrip("/")
    if not source.startswith(root + "/"):
        raise RegistryError(
            f"the version's files ({source}) are not among its run's artifacts ({root}).",
            fix="Register the model again with `mlgate run`.",
        )
    with tempfile.TemporaryDirectory(prefix="mlgate-upload-") as scratch:
        upload = Path(scratch)
        for file in files:
            shutil.copyfile(work / file, upload / file)
        client.log_artifacts(run_id, str(upload), artifact_path=source[len(root) + 1 :])
    return source
