from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mlgate import __version__
from mlgate.cli import app


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"mlgate {__version__}\n"


def test_run_json_passes_on_the_example(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["run", "-c", str(project), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["passed"] is True
    assert payload["metrics"]["accuracy"] > 0.75
