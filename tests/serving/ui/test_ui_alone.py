"""`mlgate ui`: the dashboard with no gateway, from the registry, state store and logs."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.config.settings import Settings
from mlgate.project import Project
from mlgate.road.rollouts import start_rollout
from mlgate.serving.ui import CSP
from mlgate.serving.ui.alone import create_ui_app

pytestmark = pytest.mark.anyio


def _client(project: Project) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_ui_app(project))
    return httpx.AsyncClient(transport=transport, base_url="http://dashboard")


async def test_it_serves_the_same_page_and_reads_with_no_gateway(project: Any) -> None:
    opened = Project.open(project.config, settings=Settings(), data_files=False)
    start_rollout(opened, actor="test")
    async with _client(opened) as client:
        page = await client.get("/ui")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        assert (await client.get("/ui/static/app.js")).status_code == 200
        rollout = (await client.get("/ui/api/rollout")).json()
        models = (await client.get("/ui/api/models")).json()
        traffic = (await client.get("/ui/api/traffic")).json()
        # Nothing to act through: no admin API, no prediction routes.
        assert (await client.post("/admin/rollout/abort")).status_code == 404
        assert (await client.post("/predict", json={})).status_code == 404
    assert rollout["serving"] is None
    assert (rollout["champion"], rollout["challenger"], rollout["status"]) == ("1", "2", "running")
    assert [e["kind"] for e in rollout["events"]] == ["start"]
    assert [v["version"] for v in models["versions"]] == ["1", "2"]
    assert traffic["versions"] == {}
    assert traffic["monitor"] is None


async def test_its_reads_need_the_read_token_when_one_is_set(project: Any) -> None:
    opened = Project.open(
        project.config, settings=Settings(read_token="alone-token"), data_files=False
    )
    async with _client(opened) as client:
        refused = await client.get("/ui/api/models")
        shown = await client.get("/ui/api/models", headers={"authorization": "Bearer alone-token"})
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "the dashboard's reads need Authorization: Bearer <MLGATE_READ_TOKEN> (or "
        "the admin token)",
        "detail": {"code": "unauthorized"},
    }
    assert shown.status_code == 200


def test_a_port_in_use_is_refused_before_it_serves(project: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", "-c", str(project.config), "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output


def test_a_project_with_no_registered_model_is_refused(tmp_path: Path) -> None:
    from mlgate.scaffold.example import write_example

    config = write_example(tmp_path / "fresh", rows=200)
    result = CliRunner().invoke(app, ["ui", "-c", str(config), "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "credit-risk" in result.output
