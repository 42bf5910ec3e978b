"""The model catalog and its safe artifacts."""

from mlgate.registry.artifacts import ArtifactInfo, load_skops, save_skops, sha256_file
from mlgate.registry.bundle import ModelCard, load_bundle, save_bundle

__all__ = [
    "ArtifactInfo",
    "ModelCard",
    "load_bundle",
    "load_skops",
    "save_bundle",
    "save_skops",
    "sha256_file",
]
