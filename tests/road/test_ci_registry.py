"""In CI (CI=true) a run that registers needs the registry's secret: the runner's SQLite
file would be thrown away with the job, and the run would exit 0 as if deployed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlgate.cli import app


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


REFUSED = (
    "error: CI is set and MLGATE_REGISTRY_URI is not: the version would be registered in a "
    "SQLite file on this runner, thrown away when the job ends. Give the job the registry's "
    "secret (MLGATE_REGISTRY_URI, and MLGATE_STATE_URL for the gateway's state), or set "
    "MLGATE_ALLOW_LOCAL_REGISTRY=true if a throwaway registry is what you want."
)


def test_a_run_in_ci_without_the_registry_secret_is_refused_before_training(
    new_project: object, binary_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = new_project(binary_frame)  # type: ignore[operator]
    for name in ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_ALLOW_LOCAL_REGISTRY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "true")
    code, said = invoke("run", "-c", config, "-q")
    assert (code, said) == (2, REFUSED)
    home = Path(config).parent / ".mlgate"
    assert not (home / "mlflow.db").exists()  # nothing trained, nothing registered
    assert not (home / "runs").exists()
    # Registering nothing needs no registry, in CI or not.
    code, said = invoke("run", "--no-register", "-c", config, "-q")
    assert code == 0, said
    # Allowed explicitly, it registers.
    monkeypatch.setenv("MLGATE_ALLOW_LOCAL_REGISTRY", "true")
    code, said = invoke("run", "-c", config, "-q")
    assert code == 0, said
    assert (home / "mlflow.db").exists()
