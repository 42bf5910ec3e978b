"""Model references: a run folder, `models:/NAME/VERSION` or `models:/NAME@ALIAS`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.errors import ArtifactError, RegistryError
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.bundle import CARD_FILE, ModelCard, load_bundle
from mlgate.registry.catalog import Catalog
from mlgate.registry.versions import VersionInfo

__all__ = ["LoadedModel", "is_registry_ref", "load_ref"]


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded model with its card and where it came from."""

    ref: str
    model: Any
    card: ModelCard
    folder: Path
    version: VersionInfo | None = None

    @property
    def training_time_s(self) -> float | None:
        """Seconds the final fit took, from the run record when there is one."""
        record = self.folder / "run.json"
        if not record.exists():
            return None
        value = json.loads(record.read_text(encoding="utf-8")).get("training_time_s")
        return None if value is None else float(value)

    @property
    def size_mb(self) -> float:
        """Size of the model's files in megabytes."""
        return sum(f.size_bytes for f in self.card.files or [self.card.artifact]) / 1e6


def is_registry_ref(ref: str) -> bool:
    """Whether `ref` names a registered version (models:/…, NAME@ALIAS, NAME/VERSION)."""
    if ref.startswith("models:/"):
        return True
    if Path(ref).exists():
        return False
    return "@" in ref or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/\d+", ref) is not None


def load_ref(ref: str, *, catalog: Catalog | None = None, defer: bool = False) -> LoadedModel:
    """Load the model `ref` names; a registered one only if it matches the registry's digests.

    `defer`: a version with an ONNX export is checked now and its own model built on
    first use (`model` is then a `bundle.DeferredModel`; see `bundle.fitted`).

    The registry keeps the sha256 of model.skops and of model.json (which records
    model.onnx's), so rewriting a file *and* the digest in its card is caught too.
    """
    if not is_registry_ref(ref):
        model, card = load_bundle(ref, defer=defer)
        folder = Path(ref) if Path(ref).is_dir() else Path(ref).parent
        return LoadedModel(ref=ref, model=model, card=card, folder=folder)
    if catalog is None:
        raise RegistryError(
            f"{ref!r} names a registered version, and no registry was opened to find it.",
            fix="Open the project's registry (mlgate.project.Project) and pass its catalog.",
        )
    info = catalog.resolve(ref)
    folder = catalog.local_path(info)
    where = f"{info.name} version {info.version}"
    if not info.sha256:
        raise ArtifactError(
            f"{where} has no sha256 recorded in the registry, so mlgate cannot verify it "
            "and will not load it.",
            path=folder,
            fix="Register models with `mlgate run`, which records the digests.",
        )
    if info.card_sha256 and sha256_file(folder / CARD_FILE) != info.card_sha256:
        raise ArtifactError(
            f"{CARD_FILE} of {where} differs from the one registered (its sha256 does not "
            "match the registry's); the files were altered.",
            path=folder,
            fix="Register the model again from a trusted run.",
        )
    try:
        recorded = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
        card_digest = recorded["artifact"]["sha256"]
    except (ValueError, OSError, KeyError, TypeError) as e:
        raise ArtifactError(
            f"the model card of {where} is missing or damaged ({e}).",
            path=folder,
            fix="Register the model again from a trusted run.",
        ) from e
    if info.sha256 != card_digest:
        raise ArtifactError(
            f"the model card's sha256 differs from the one the registry recorded for "
            f"{where}; the files were altered.",
            path=folder,
            fix="Register the model again from a trusted run.",
        )
    model, card = load_bundle(folder, defer=defer)
    return LoadedModel(ref=ref, model=model, card=card, folder=folder, version=info)
