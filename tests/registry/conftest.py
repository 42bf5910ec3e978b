"""Fixtures of the registry tests: a catalog on a real MLflow registry (SQLite) and bundles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from catalog_support import make_bundle, register

from mlgate.project import Project
from mlgate.registry.catalog import Catalog


@pytest.fixture
def catalog(
    tmp_path: Path, registry_for: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> Catalog:
    registry_for(tmp_path / "project")
    monkeypatch.setenv("MLGATE_ACTOR", "tester")
    return Project(tmp_path / "project").catalog


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "run")


@pytest.fixture
def three(catalog: Catalog, bundle: Path) -> Catalog:
    """Versions 1 and 3 passed their gates, 2 failed; nothing has an alias yet."""
    register(catalog, bundle)
    register(catalog, bundle, passed=False, reasons=["accuracy too low"])
    register(catalog, bundle)
    return catalog
