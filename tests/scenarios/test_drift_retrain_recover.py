"""The chapter's scenario end to end: drift degrades the model, the monitor notices,
retrains through the same gates, the challenger is rolled out and promoted, and
live accuracy recovers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.monitor.cycle import run_cycle
from mlgate.project import Project
from mlgate.registry.catalog import CHAMPION
from mlgate.road.run import run
from mlgate.scaffold.example import credit_data, write_example
from mlgate.serving.app import create_app
from mlgate.serving.gateway import Gateway
from mlgate.state.rollout import get_rollout

FEATURES = ["age", "income", "debt_ratio", "credit_score", "employment", "region"]

SCENARIO = """
rollout:
  strategy: canary
  steps: [50, 100]
  interval: 1s
  failure_limit: 3
  analysis: {min_requests: 40, min_agreement: 0.5, max_p99_latency_ratio: 50, min_labels: 20}
monitor:
  window: 1h
  min_samples: 300
  min_labels: 100
  accuracy_floor: 0.80
  deploy: true
  retrain: {include_configured: false}   # what drives defaults changed: learn from now
"""


async def _serve_batch(
    client: httpx.AsyncClient, frame: Any, *, key_prefix: str
) -> tuple[float, set[str]]:
    """Send every row, then its label; the share answered right and the versions seen."""
    right, versions = 0, set()
    labels = []
    for i, row in enumerate(frame[FEATURES].to_dict("records")):
        row["income"] = None if row["income"] != row["income"] else row["income"]
        response = await client.post(
            "/predict", json={"instances": [row]}, headers={"x-mlgate-key": f"{key_prefix}{i}"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        versions.add(response.headers["x-mlgate-version"])
        truth = int(frame["default"].iloc[i])
        right += body["predictions"][0] == truth
        labels.append({"request_id": body["request_id"], "label": truth})
    feedback = await client.post("/feedback", json={"feedback": labels})
    assert feedback.status_code == 200
    return right / len(frame), versions


def test_drift_retrain_rollout_recover(tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path))


async def _scenario(tmp_path: Path) -> None:
    config_path = write_example(tmp_path / "project", rows=1500)
    config_path.write_text(config_path.read_text() + SCENARIO)
    config = load_config(config_path)
    settings = Settings(poll_interval=0.2)
    first = run(config, register=True)
    assert first.registration is not None
    assert first.registration.alias == CHAMPION

    project = Project(config.base_dir, settings, config)
    gateway = Gateway(project)
    gateway.load()
    app = create_app(gateway)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        undrifted, _ = await _serve_batch(client, credit_data(200, seed=21), key_prefix="a")
        drifted = credit_data(700, seed=22, drift=1.0)
        before, versions = await _serve_batch(client, drifted, key_prefix="b")
        assert versions == {"1"}
        assert before < undrifted - 0.03, (before, undrifted)
        gateway.flush_logs()

        cycle = await asyncio.to_thread(run_cycle, project)
        assert cycle.status in ("drift", "degraded"), cycle.reasons
        assert cycle.retrained, cycle.notes
        assert cycle.retrain_passed, cycle.notes
        assert cycle.retrain_alias == "challenger"
        assert cycle.rollout_started

        deadline = time.monotonic() + 120
        seen: set[str] = set()
        batch = 0
        while get_rollout(project.state, config.name).status == "running":
            assert time.monotonic() < deadline, get_rollout(project.state, config.name)
            _, versions = await _serve_batch(
                client, credit_data(80, seed=100 + batch, drift=1.0), key_prefix=f"c{batch}-"
            )
            seen |= versions
            gateway.flush_logs()
            batch += 1
            await asyncio.sleep(1.1)
        state = get_rollout(project.state, config.name)
        assert state.status == "promoted", state.note
        assert "2" in seen
        await asyncio.sleep(0.5)
        after, versions = await _serve_batch(
            client, credit_data(500, seed=23, drift=1.0), key_prefix="d"
        )
        assert versions == {"2"}
        assert after > before + 0.03, (before, after)
