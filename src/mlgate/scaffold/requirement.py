"""The requirement a scaffolded project installs mlgate by: where this mlgate came from.

Until mlgate is on a package index, `mlgate>=X` installs nothing, so `mlgate init`
writes what the running mlgate was installed from, as pip recorded it in the
distribution's `direct_url.json` (PEP 610): a VCS URL pinned to its commit, a local
folder, or a wheel or archive's URL. An mlgate installed from an index has no such
record and gets `mlgate>=<its version>`.
"""

from __future__ import annotations

import json
from importlib.metadata import Distribution, PackageNotFoundError, distribution

from mlgate._version import __version__

__all__ = ["mlgate_requirement"]


def mlgate_requirement(installed: Distribution | None = None) -> str:
    """A pip requirement that installs `installed` (default: the running mlgate's
    distribution) again, on this machine or, for a VCS URL, anywhere."""
    if installed is None:
        try:
            installed = distribution("mlgate")
        except PackageNotFoundError:  # run from a source tree on PYTHONPATH, not installed
            return f"mlgate>={__version__}"
    from_index = f"mlgate>={installed.version}"
    text = installed.read_text("direct_url.json")
    if not text:
        return from_index
    try:
        origin = json.loads(text)
        url = origin["url"]
    except (ValueError, KeyError, TypeError):  # a record pip did not write: use the index
        return from_index
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and "vcs" in vcs:
        url = f"{vcs['vcs']}+{url}"
        revision = vcs.get("commit_id") or vcs.get("requested_revision")
        if revision:
            url += f"@{revision}"
    subdirectory = origin.get("subdirectory")
    if subdirectory:
        url += f"#subdirectory={subdirectory}"
    return f"mlgate @ {url}"
