"""Where a model came from: data prints, config hash, git commit, package versions."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

__all__ = ["Lineage", "git_commit", "package_versions"]

_PACKAGES = ("mlgate", "numpy", "pandas", "pyarrow", "polars", "scikit-learn", "scipy", "skops")


class Lineage(BaseModel):
    """Everything needed to say which inputs produced a model."""

    train_fingerprint: str
    test_fingerprint: str | None
    config_hash: str
    git_commit: str | None
    git_dirty: bool | None
    seed: int
    packages: dict[str, str]


def git_commit(folder: Path) -> tuple[str | None, bool | None]:
    """The commit checked out in `folder` and whether the tree has changes, if it is a repo."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        # mlgate's own outputs (.mlgate/) are not a change to the code that trained the model.
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", ":(top,exclude,glob)**/.mlgate/**"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of the packages a model depends on."""
    found: dict[str, str] = {}
    for name in _PACKAGES + extra:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    found["python"] = platform.python_version()
    return found
