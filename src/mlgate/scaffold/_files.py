"""The files a scaffold writes stay inside the project: never through a symbolic link.

A link in the project folder (`mlgate.yaml`, `data/`, `.github/workflows/`), even
a dangling one, would make a write land wherever it points: a file outside the
project overwritten, or one created there. Links are refused, with or without
`--force`, before anything is written: replacing a link the user made would
lose their setup, and writing through it would change a file outside.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlgate.errors import ConfigError

__all__ = ["refuse_links"]


def refuse_links(folder: Path, names: Iterable[str]) -> None:
    """A ConfigError naming each link on the way to the files `names` (relative to
    `folder`); nothing when there is none."""
    links: list[str] = []
    for name in names:
        parts = Path(name).parts
        for depth in range(1, len(parts) + 1):
            step = Path(*parts[:depth])
            if (folder / step).is_symlink():
                if step.as_posix() not in links:
                    links.append(step.as_posix())
                break
    if links:
        raise ConfigError(
            f"refusing to write through {len(links)} symbolic link(s): {', '.join(links)}",
            file=folder,
            fix="mlgate writes only regular files inside the project, never through a link "
            "(it may point outside): remove the link(s), or choose another folder.",
        )
