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

#: Packages whose *classes* may be loaded from a skops file. Functions are refused even
#: there (a model file naming `builtins.eval` or `subprocess.call` is an attack), and so is
#: anything outside these packages, by name.
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")
#: Plain containers skops may list as untrusted though they run no code.
TRUSTED_TYPES = frozenset(
    {"collections.OrderedDict", "collections.defaultdict", "collections.Counter"}
)


def _trusted(name: str) -> bool:
    """Whether the type `name` (module.Qualified.Name) is a class from a trusted package,
    or from the code of the version being loaded (mlgate.registry.code)."""
    from mlgate.registry.code import trusted_modules

    if name in TRUSTED_TYPES:
        return True
    module_name, _, attribute = name.rpartition(".")
    if module_name in trusted_modules():
        found_class: object = sys.modules.get(module_name)
        for part in attribute.split("."):
            found_class = getattr(found_class, part, None)
        return inspect.isclass(found_class)
    if module_name.split(".")[0] not in TRUSTED_PACKAGES:
        return False
    try:
        found: object = importlib.import_module(module_name)
    except ImportError:
        return False
    for part in attribute.split("."):
        found = getattr(found, part, None)
    return inspect.isclass(found)


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
            fix="Only scikit-learn, NumPy and SciPy classes, and those of the files listed "
            "under model.code (stored with the version), are loaded from model files; list "
            "the module that defines them under model.code and train again.",
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except Exception as e:
        raise ArtifactError(f"cannot load the model ({e})", path=path) from e
