"""`mlgate monitor` on a project shaped like real data: its config drops a column, a
category is missing in some rows, and live traffic repeats rows. Drift degrades the
champion; one cycle retrains from the logged traffic and the configured data, and the
retrained version is rolled out as a canary that the gateway then serves."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.config.loader import load_config
from mlgate.project import Project
from mlgate.registry.versions import CHALLENGER, CHAMPION
from mlgate.road.run import run
from mlgate.state.rollout import get_rollout
from monitor.loans import NAME, applicants, serve, with_repeats, write_project

MONITOR = {
    "deploy": True,
    "retrain": {"include_configured": True},  # the default: keep what was learned
}
ROLLOUT = {"strategy": "canary", "steps": [50, 100], "interval": "1h"}


def test_the_monitor_retrains_from_real_traffic_and_rolls_the_new_version_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in list(os.environ):
        if variable.startswith("MLGATE_") or variable == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(variable)
    config_path = write_project(tmp_path / "project", monitor=MONITOR, rollout=ROLLOUT)
    config = load_config(config_path)
    assert config.data.drop == ["year"]
    assert pd.read_csv(config.resolve(config.data.train))["employment"].isna().any()
    first = run(config, register=True)
    assert first.registration is not None
    assert first.registration.alias == CHAMPION

    traffic = with_repeats(applicants(400, seed=11, drift=1.0), 0.3, seed=1)
    assert traffic.duplicated().sum() >= 100
    assert serve(config_path, traffic) == {"1"}

    result = CliRunner().invoke(app, ["monitor", "--once", "-c", str(config_path)])
    assert result.exit_code == 1, result.output  # the champion degraded
    text = " ".join(result.stdout.split())
    assert "degraded — champion 1, 520 served rows, 520 labelled" in text
    assert "retraining on 1216 rows (800 configured, 416 recent labelled); testing on 104 " in (
        text
    )
    assert "retrained: version 2 passed its gates (retrain gate: floors) and is challenger" in text
    assert "rollout started for the retrained challenger" in text

    project = Project.open(config_path)
    try:
        assert project.catalog.aliases(NAME) == {CHAMPION: "1", CHALLENGER: "2"}
        state = get_rollout(project.state, NAME)
        assert (state.status, state.strategy, state.weight) == ("running", "canary", 50.0)
    finally:
        project.close()
    assert serve(config_path, applicants(60, seed=12, drift=1.0), batch=2) == {"1", "2"}
