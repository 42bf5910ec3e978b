"""The dashboard's page, files and reads, asked for over HTTP (the app in-process).

What the page is served with (its content security policy), what its reads hold
(figures only: no row, no feature value, no webhook URL), and the read token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from mlgate.road import rollouts
from mlgate.road.rollouts import start_rollout
from mlgate.rollout.analysis import Analysis, VersionFigures
from mlgate.rollout.estimated import Estimated, EstimatedSide
from mlgate.serving.ui import CSP
from serving.requests import ROW

pytestmark = pytest.mark.anyio

#: A webhook URL is a secret (Slack's carry their token in the path).
WEBHOOK = "http://127.0.0.1:9/hooks/T0-SECRET-PATH"
READ_TOKEN = "dashboard-read-token"


async def test_the_page_and_its_files_are_served_with_a_strict_policy(
    kit: Any, project: Any
) -> None:
    async with kit.running(kit.make_gateway(project), lifespan=False) as s:
        page = await s.client.get("/ui")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP
        assert "default-src 'self'" in CSP
        assert (await s.client.get("/ui/static/pages.py")).json()["error"] == (
            "no dashboard file 'pages.py'; the page is made of app.js, app.css, icon.svg, "
            "uPlot.iife.min.js, uPlot.min.css"
        )
        assert "<script>" not in page.text
        assert "style=" not in page.text
        for name, kind in (
            ("app.js", "text/javascript"),
            ("app.css", "text/css"),
            ("uPlot.iife.min.js", "text/javascript"),
            ("uPlot.min.css", "text/css"),
            ("icon.svg", "image/svg+xml"),
        ):
            found = await s.client.get(f"/ui/static/{name}")
            assert found.status_code == 200, name
            assert found.headers["content-type"].startswith(kind)
            assert found.headers["x-content-type-options"] == "nosniff"
            assert f"ui/static/{name}" in page.text
        for name in ("pages.py", "index.html", "..%2Ffigures.py"):
            missing = await s.client.get(f"/ui/static/{name}")
            assert missing.status_code == 404, name


async def test_the_reads_carry_figures_and_never_rows_or_secrets(kit: Any, project: Any) -> None:
    doc = yaml.safe_load(project.config.read_text(encoding="utf-8"))
    doc["rollout"] = {"strategy": "canary", "steps": [10, 100], "webhook": WEBHOOK}
    project.config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    gateway = kit.make_gateway(project)
    start_rollout(gateway.project, actor="test")
    async with kit.running(gateway) as s:
        for i in range(12):
            answer = await s.client.post(
                "/predict",
                json={"instances": [{**ROW, "income": 52345.678}]},
                headers={"x-mlgate-key": f"user-{i}"},
            )
            assert answer.status_code == 200
        gateway.flush_logs()
        rollout = (await s.client.get("/ui/api/rollout")).json()
        models = (await s.client.get("/ui/api/models")).json()
        traffic = (await s.client.get("/ui/api/traffic")).json()
        first = (await s.client.get("/ui/api/versions/1")).json()
        second = (await s.client.get("/ui/api/versions/2")).json()
        missing = await s.client.get("/ui/api/versions/9")
    assert missing.status_code == 404
    assert missing.json()["error"] == "model 'credit-risk' has no version '9'; its versions: 1, 2"
    assert first["comparison"] is None  # the first champion had none to be compared with
    assert second["aliases"] == ["challenger"]
    comparison = second["comparison"]
    assert comparison["against"] == "models:/credit-risk/1 (champion)"
    accuracy = next(m for m in comparison["metrics"] if m["metric"] == "accuracy")
    assert accuracy["ci_low"] <= accuracy["difference"] <= accuracy["ci_high"]
    assert accuracy["candidate"] == second["metrics"]["accuracy"]
    assert comparison["passed"] is True
    assert all(check["passed"] for check in comparison["checks"])
    assert rollout["status"] == "running"
    assert (rollout["champion"], rollout["challenger"]) == ("1", "2")
    assert rollout["plan"]["steps"] == [10.0, 100.0]
    assert rollout["weight"] == 10.0
    assert rollout["serving"]["challenger"] == "2"
    assert [e["kind"] for e in rollout["events"]] == ["start"]
    assert rollout["points"] == []  # no analysis yet: the controller's interval is a minute
    assert [v["version"] for v in models["versions"]] == ["1", "2"]
    assert {v["version"]: v["aliases"] for v in models["versions"]} == {
        "1": ["champion"],
        "2": ["challenger"],
    }
    assert "accuracy" in models["versions"][0]["metrics"]
    sent = {v: sum(line["requests"]) for v, line in traffic["versions"].items()}
    assert sum(sent.values()) == 12
    assert set(sent) <= {"1", "2"}
    shown = str([rollout, models, traffic, first, second])
    assert str(project.config.parent) not in shown  # no path of the machine
    assert "T0-SECRET-PATH" not in shown
    for value in ("employed", "52345.678", "features", "prediction"):
        assert value not in shown, value


async def test_a_read_token_closes_the_reads_but_not_the_page(kit: Any, project: Any) -> None:
    gateway = kit.make_gateway(project, read_token=READ_TOKEN, admin_token="admin-may-read")
    async with kit.running(gateway, lifespan=False) as s:
        assert (await s.client.get("/ui")).status_code == 200
        for path in ("/ui/api/rollout", "/ui/api/models", "/ui/api/traffic"):
            refused = await s.client.get(path)
            assert refused.status_code == 401
            assert refused.json()["error"] == (
                "the dashboard's reads need Authorization: Bearer <MLGATE_READ_TOKEN> (or the "
                "admin token)"
            )
            wrong = await s.client.get(path, headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
            shown = await s.client.get(path, headers={"authorization": f"Bearer {READ_TOKEN}"})
            assert shown.status_code == 200, shown.text
            admin = await s.client.get(path, headers={"authorization": "Bearer admin-may-read"})
            assert admin.status_code == 200, admin.text
            assert shown.headers["cache-control"] == "no-store"


async def test_the_rollout_read_carries_the_estimated_performance(kit: Any, project: Any) -> None:
    gateway = kit.make_gateway(project)
    state = start_rollout(gateway.project, actor="test")
    since = datetime.now(UTC)
    side = EstimatedSide
    estimates = [
        None,  # rollout.analysis.estimated: off
        Estimated(
            metric="accuracy",
            champion=side(version="1", rows=90, value=0.9, low=0.85, high=0.95),
            challenger=None,
            notes=["version 2 answered no rows yet"],
        ),
        Estimated(
            metric="accuracy",
            champion=side(version="1", rows=180, value=0.9, low=0.86, high=0.94),
            champion_same_rows=side(version="1", rows=20, value=0.88, low=0.8, high=0.96),
            challenger=side(version="2", rows=20, value=0.81, low=0.7, high=0.92),
        ),
    ]
    for estimated in estimates:
        analysis = Analysis(
            since=since,
            champion=VersionFigures(version="1", requests=90),
            challenger=VersionFigures(version="2", requests=10),
            estimated=estimated,
        )
        figures = {"analysis": analysis.model_dump(mode="json")}
        rollouts.record(gateway.project, state, "analysis", "hold: too few labels", figures, "c")
    async with kit.running(gateway) as s:
        rollout = (await s.client.get("/ui/api/rollout")).json()
    assert [p["estimated"] for p in rollout["points"]] == [
        None,
        {
            "metric": "accuracy",
            "same_rows": False,
            "value": [0.9, None],
            "low": [0.85, None],
            "high": [0.95, None],
            "rows": [90, None],
        },
        {  # the champion on the challenger's rows: the figure it is compared with
            "metric": "accuracy",
            "same_rows": True,
            "value": [0.88, 0.81],
            "low": [0.8, 0.7],
            "high": [0.96, 0.92],
            "rows": [20, 20],
        },
    ]
