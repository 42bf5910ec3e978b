"""Fixtures of the rollout tests: a registered project per test, copied from one built once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Gateway, clean_environment, copy_project, registered_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with champion 1 and challenger 2; never written to by a test."""
    return registered_template(tmp_path_factory)


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the registered project; its mlgate.yaml. No MLGATE_* variable set."""
    clean_environment(monkeypatch)
    return copy_project(template, tmp_path / "project")


@pytest.fixture
def gateways() -> Iterator[list[Gateway]]:
    """Gateways a test started; any still running are stopped at the end."""
    started: list[Gateway] = []
    yield started
    for gateway in started:
        if gateway.process.poll() is None:
            gateway.kill()
