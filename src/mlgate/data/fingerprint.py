"""Content hashes of datasets, recorded with every run for lineage."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlgate.errors import DataError

__all__ = ["fingerprint"]

_CHUNK = 1 << 20


def fingerprint(location: str | Path) -> str:
    """The sha256 of a file's bytes, as `sha256:<hex>`: the same data gives the same print."""
    import fsspec

    digest = hashlib.sha256()
    try:
        with fsspec.open(str(location), "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as e:
        raise DataError(f"cannot read it to fingerprint it ({e})", source=str(location)) from e
    return f"sha256:{digest.hexdigest()}"
