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

    if "://" not in str(location):
        path = Path(location)
        if not path.exists():
            raise DataError("file not found.", source=str(location), fix="Check the path.")
        if path.is_dir():
            raise DataError("expected a file, found a folder.", source=str(location))
    digest = hashlib.sha256()
    try:
        with fsspec.open(str(location), "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError as e:
        raise DataError(
            "file not found.", source=str(location), fix="Check the path or URL."
        ) from e
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise DataError(f"cannot read it to fingerprint it ({reason})", source=str(location)) from e
    return f"sha256:{digest.hexdigest()}"
