"""The requirement `mlgate init` writes names where the running mlgate was installed from,
read from its distribution's metadata (PEP 610's direct_url.json)."""

from __future__ import annotations

import json
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import Any

import pytest

from mlgate.scaffold.project import init_project
from mlgate.scaffold.requirement import mlgate_requirement


def _installed(tmp_path: Path, origin: dict[str, Any] | str | None) -> PathDistribution:
    """An installed distribution's metadata folder, as pip writes it."""
    folder = tmp_path / "mlgate-0.3.1.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: mlgate\nVersion: 0.3.1\n", encoding="utf-8"
    )
    if origin is not None:
        text = origin if isinstance(origin, str) else json.dumps(origin)
        (folder / "direct_url.json").write_text(text, encoding="utf-8")
    return PathDistribution(folder)


@pytest.mark.parametrize(
    ("origin", "requirement"),
    [
        pytest.param(
            {
                "url": "https://github.com/acme/mlgate.git",
                "vcs_info": {"vcs": "git", "requested_revision": "main", "commit_id": "1a2b3c"},
            },
            "mlgate @ git+https://github.com/acme/mlgate.git@1a2b3c",
            id="vcs, pinned to the commit installed",
        ),
        pytest.param(
            {
                "url": "https://github.com/acme/tools.git",
                "vcs_info": {"vcs": "git", "commit_id": "9f9f"},
                "subdirectory": "mlgate",
            },
            "mlgate @ git+https://github.com/acme/tools.git@9f9f#subdirectory=mlgate",
            id="vcs subdirectory",
        ),
        pytest.param(
            {"url": "file:///src/mlgate", "dir_info": {"editable": True}},
            "mlgate @ file:///src/mlgate",
            id="a local folder, editable or not",
        ),
        pytest.param(
            {
                "url": "file:///dist/mlgate-0.3.1-py3-none-any.whl",
                "archive_info": {"hashes": {"sha256": "00"}},
            },
            "mlgate @ file:///dist/mlgate-0.3.1-py3-none-any.whl",
            id="a wheel file",
        ),
        pytest.param(None, "mlgate>=0.3.1", id="from an index: no record"),
        pytest.param("{not json", "mlgate>=0.3.1", id="a broken record"),
    ],
)
def test_the_requirement_names_where_mlgate_was_installed_from(
    tmp_path: Path, origin: dict[str, Any] | str | None, requirement: str
) -> None:
    assert mlgate_requirement(_installed(tmp_path, origin)) == requirement


def test_init_writes_the_running_mlgate_s_requirement(tmp_path: Path) -> None:
    init_project(tmp_path / "project", bare=True)
    written = (tmp_path / "project" / "requirements.txt").read_text(encoding="utf-8")
    assert written.splitlines() == [mlgate_requirement(), "pytest>=8"]
