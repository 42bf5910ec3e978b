"""The monitor's fixtures: a project shaped like real data, with a champion and logged
traffic, built once and copied per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.monitor.cycle import run_cycle
from mlgate.monitor.result import CycleResult
from mlgate.project import Project
from mlgate.road.run import run
from monitor.loans import applicants, serve, with_repeats, write_project


def _clean_environment(patch: pytest.MonkeyPatch) -> None:
    """No MLGATE_* (or MLflow) variable of the machine may steer a test."""
    for variable in list(os.environ):
        if variable.startswith("MLGATE_") or variable == "MLFLOW_TRACKING_URI":
            patch.delenv(variable)


@dataclass(frozen=True)
class Served:
    """The project as built once: its folder, and the traffic its champion answered."""

    folder: Path
    traffic: pd.DataFrame


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    """Version 1 champion, then drifted traffic with a share of repeated rows, all labelled."""
    folder = tmp_path_factory.mktemp("monitored") / "project"
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        config = write_project(folder)
        first = run(load_config(config), register=True)
        assert first.registration is not None
        assert first.registration.alias == "champion"
        traffic = with_repeats(applicants(400, seed=11, drift=1.0), 0.3, seed=1)
        assert serve(config, traffic) == {"1"}
    return Served(folder, traffic)


@dataclass(frozen=True)
class Monitored:
    """A private copy of the served project for one test."""

    config: Path
    traffic: pd.DataFrame

    def configure(self, **sections: object) -> None:
        """Merge `sections` into the config's top-level sections (one level deep)."""
        doc = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        for key, value in sections.items():
            doc[key] = doc.get(key, {}) | value if isinstance(value, dict) else value
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def open(self) -> Project:
        config = load_config(self.config)
        return Project(config.base_dir, Settings(), config)

    def cycle(self, *, retrain: bool = True) -> CycleResult:
        """One monitoring cycle of the project, opened and closed for it."""
        project = self.open()
        try:
            return run_cycle(project, retrain=retrain)
        finally:
            project.close()


@pytest.fixture
def monitored(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Monitored]:
    """A copy of the served project (artifacts stay where the registry recorded them)."""
    _clean_environment(monkeypatch)
    target = tmp_path / "project"
    shutil.copytree(served.folder, target, ignore=shutil.ignore_patterns("artifacts", "runs"))
    return Monitored(target / "mlgate.yaml", served.traffic)
