"""Shared fixtures: example projects, small frames and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlgate.scaffold.example import write_example


@pytest.fixture
def runner() -> CliRunner:
    """Runs `mlgate` commands in-process, the way typer's docs test CLIs."""
    return CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the example project; returns the path of its mlgate.yaml."""
    return write_example(tmp_path / "project", rows=600)


def write_config(folder: Path, text: str) -> Path:
    """Write an mlgate.yaml into `folder` and return its path."""
    path = folder / "mlgate.yaml"
    path.write_text(text, encoding="utf-8")
    return path
