"""A project shaped like real data, and live traffic for it through the real gateway.

The example's loan applicants, plus what real projects have and the example lacks:
a `year` column the config drops (missing in old rows, and never served), an
`employment` category missing in some rows (the gateway logs it as `(missing)`),
and traffic that repeats rows, as live traffic does.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.data.infer import infer_schema
from mlgate.project import Project
from mlgate.scaffold.example import credit_data
from mlgate.serving.app import create_app
from mlgate.serving.gateway import Gateway

NAME = "loans"
TARGET = "default"
FEATURES = ["age", "income", "debt_ratio", "credit_score", "employment", "region"]

CONFIG: dict[str, Any] = {
    "name": NAME,
    "data": {
        "train": "data/train.csv",
        "test": "data/test.csv",
        "target": TARGET,
        "drop": ["year"],
    },
    "schema": "schema.yaml",
    "model": {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 40, "max_depth": 6},
        "cv_folds": 0,
    },
    "evaluation": {"slices": ["employment"]},
    "gates": {"min": {"accuracy": 0.7}, "max_regression": {"accuracy": 0.05}},
    "monitor": {
        "window": "1h",
        "min_samples": 200,
        "min_labels": 100,
        "accuracy_floor": 0.8,
        "retrain": {"include_configured": False},
    },
}


def applicants(rows: int, *, seed: int, drift: float = 0.0) -> pd.DataFrame:
    """Loan applicants with a `year` missing in 40% of rows and `employment` in 8%."""
    frame = credit_data(rows, seed=seed, drift=drift)
    rng = np.random.default_rng(seed + 1000)
    year = rng.integers(2015, 2025, rows).astype("float64")
    year[rng.random(rows) < 0.4] = np.nan
    frame["year"] = year
    employment = frame["employment"].astype(object)
    employment[rng.random(rows) < 0.08] = None
    frame["employment"] = employment
    return frame


def write_project(folder: Path, **overrides: Any) -> Path:
    """The project's data, schema and config in `folder`; `overrides` are top-level sections
    merged into the config's (one level deep). The path of its mlgate.yaml."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame = applicants(1000, seed=3)
    frame.iloc[:800].to_csv(data / "train.csv", index=False)
    frame.iloc[800:].to_csv(data / "test.csv", index=False)
    schema = infer_schema(frame.iloc[:800])
    # As a team writes it: old rows lack the year, and at most half may.
    schema.columns["year"].max_missing_rate = 0.5
    assert schema.dataset.max_duplicates == 0, "the training data repeats no row"
    schema.save(folder / "schema.yaml")
    config = dict(CONFIG)
    for key, value in overrides.items():
        config[key] = config.get(key, {}) | value
    path = folder / "mlgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def with_repeats(frame: pd.DataFrame, share: float, *, seed: int) -> pd.DataFrame:
    """`frame` with `share` of its rows sent again (the same applicant asking twice)."""
    again = frame.sample(frac=share, random_state=seed)
    return pd.concat([frame, again], ignore_index=True).sample(frac=1.0, random_state=seed)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


async def _send(client: httpx.AsyncClient, frame: pd.DataFrame, batch: int) -> set[str]:
    versions: set[str] = set()
    for start in range(0, len(frame), batch):
        part = frame.iloc[start : start + batch]
        rows = [{f: _plain(r[f]) for f in FEATURES} for r in part.to_dict("records")]
        response = await client.post("/predict", json={"instances": rows})
        assert response.status_code == 200, response.text
        versions.add(response.headers["x-mlgate-version"])
        request_id = response.json()["request_id"]
        labels = [
            {"request_id": request_id, "row": i, "label": int(label)}
            for i, label in enumerate(part[TARGET])
        ]
        feedback = await client.post("/feedback", json={"feedback": labels})
        assert feedback.status_code == 200, feedback.text
    return versions


def serve(config_path: Path, frame: pd.DataFrame, *, batch: int = 25) -> set[str]:
    """Send `frame`'s rows through the project's gateway, in-process, with their labels;
    the logs are written when it shuts down. The versions that answered."""

    async def main() -> set[str]:
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
                return await _send(client, frame, batch)
        finally:
            project.close()

    return asyncio.run(main())
