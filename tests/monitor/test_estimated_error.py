"""A regressor's MAE and RMSE estimated before labels: registration fits a loss model on
the held-out rows, and the monitor's estimate on shifted traffic holds the realized MAE
within its interval; a ceiling judges the estimate before labels arrive."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.monitor.cycle import run_cycle
from mlgate.monitor.result import CycleResult
from mlgate.project import Project
from mlgate.registry.bundle import load_bundle
from mlgate.road.run import run
from mlgate.serving.app import create_app
from mlgate.serving.gateway import Gateway
from monitor.conftest import _clean_environment


def readings(rows: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A sensor's readings: `load` drives the output, and the noise grows with it; `shift`
    moves a share of rows to high loads, within the range trained on."""
    rng = np.random.default_rng(seed)
    load = rng.uniform(0, 10, rows)
    load = np.where(rng.random(rows) < shift, rng.uniform(7, 10, rows), load)
    site = rng.choice(["a", "b"], rows)
    output = 3 * load + (site == "b") * 5 + rng.normal(0, 1, rows) * (0.5 + 0.6 * load)
    return pd.DataFrame({"load": load.round(3), "site": site, "output": output.round(3)})


def write_project(folder: Path) -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    frame = readings(1500, seed=1)
    frame.iloc[:1000].to_csv(data / "train.csv", index=False)
    frame.iloc[1000:].to_csv(data / "test.csv", index=False)
    config = {
        "name": "sensor",
        "data": {"train": "data/train.csv", "test": "data/test.csv", "target": "output"},
        "model": {
            "estimator": "sklearn.ensemble.RandomForestRegressor",
            "params": {"n_estimators": 20, "max_depth": 6},
            "cv_folds": 0,
        },
        "gates": {"min": {"r2": 0.5}},
        "monitor": {"window": "1h", "min_samples": 200, "min_labels": 100},
    }
    path = folder / "mlgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def serve(config_path: Path, frame: pd.DataFrame, *, labelled: bool) -> None:
    """Send `frame`'s rows through the gateway in-process, with their labels if asked."""

    async def main() -> None:
        config = load_config(config_path)
        project = Project(config.base_dir, Settings(), config)
        gateway = Gateway(project)
        gateway.load()
        app = create_app(gateway)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gateway"
                ) as client,
            ):
                for start in range(0, len(frame), 50):
                    part = frame.iloc[start : start + 50]
                    rows = [{"load": r["load"], "site": r["site"]} for _, r in part.iterrows()]
                    response = await client.post("/predict", json={"instances": rows})
                    assert response.status_code == 200, response.text
                    if not labelled:
                        continue
                    request_id = response.json()["request_id"]
                    labels = [
                        {"request_id": request_id, "row": i, "label": float(v)}
                        for i, v in enumerate(part["output"])
                    ]
                    sent = await client.post("/feedback", json={"feedback": labels})
                    assert sent.status_code == 200, sent.text
        finally:
            project.close()

    asyncio.run(main())


def cycle(config_path: Path, **monitor: Any) -> CycleResult:
    if monitor:
        doc = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        doc["monitor"] |= monitor
        config_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    config = load_config(config_path)
    project = Project(config.base_dir, Settings(), config)
    try:
        return run_cycle(project, retrain=False)
    finally:
        project.close()


def test_the_estimated_error_tracks_the_realized_under_covariate_shift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_environment(monkeypatch)
    config = write_project(tmp_path / "project")
    outcome = run(load_config(config), register=True)
    assert outcome.passed, outcome.reasons
    _, card = load_bundle(outcome.output_dir)
    assert card.loss_model is not None
    assert card.loss_model.usable
    serve(config, readings(600, seed=7, shift=0.7), labelled=True)
    found = cycle(config)
    estimate = found.estimated_error
    assert estimate is not None, found.estimate_note
    assert found.live_mae is not None
    assert found.live_rmse is not None
    assert estimate.mae_low <= found.live_mae <= estimate.mae_high
    assert estimate.rmse_low <= found.live_rmse <= estimate.rmse_high
    # The shift moved rows to where the model errs more, and the estimate saw it.
    assert estimate.mae_low > card.loss_model.held_out_mae
    assert found.error_gap is not None
    assert not any("concept drift" in note for note in found.notes)
    # Labels too few to count: the estimate wholly above the ceiling is the finding.
    ceiling = round(estimate.mae_low - 0.05, 2)
    judged = cycle(config, error_ceiling=ceiling, min_labels=100_000)
    assert judged.live_mae is None
    assert judged.status == "degraded"
    assert re.fullmatch(
        rf"estimated MAE [\d.]+ \(95% interval [\d.]+ to [\d.]+\) on {judged.rows} rows "
        rf"without enough labels is above the ceiling {ceiling:g}",
        judged.reasons[-1],
    ), judged.reasons
