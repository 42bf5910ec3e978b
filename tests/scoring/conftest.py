"""Fixtures of the batch scoring tests: the registered project (champion 1, challenger 2)
built once per session by the rollout tests' helper, copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.support import clean_environment, copy_project, registered_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registered_template(tmp_path_factory)


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the registered project; its mlgate.yaml. Commands run in its folder."""
    clean_environment(monkeypatch)
    config = copy_project(template, tmp_path / "project")
    monkeypatch.chdir(config.parent)
    return config
