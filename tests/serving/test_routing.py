"""Routing through the state store: the split a gateway applies is the one stored.

Version 1 (a forest) is the champion, version 2 (a logistic regression) the
challenger; they disagree on some test rows, so who answered is visible in the
answers themselves as well as in the headers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from mlgate.rollout.strategies import bucket
from mlgate.state.predlog import read_log
from mlgate.state.rollout import set_rollout
from serving.requests import MODEL, labels_of

pytestmark = pytest.mark.anyio


def _split(project: Any, strategy: str, weight: float) -> None:
    set_rollout(project.opened().state, MODEL, strategy=strategy, weight=weight, actor="test")


def _metric(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text, 0 when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{wanted}}} "
    found = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(found[0].removeprefix(prefix)) if found else 0.0


async def test_a_canary_set_in_the_store_is_served_within_a_second(
    serve: Any, project: Any, registered: Any
) -> None:
    row = {"instances": registered.lists(slice(0, 1))}
    async with serve(poll_interval=0.25, role_header=True) as s:
        statuses, roles = [], []
        for _ in range(20):
            response = await s.client.post("/predict", json=row)
            statuses.append(response.status_code)
            roles.append(response.headers["x-mlgate-role"])
        assert set(roles) == {"champion"}

        # Another process (here: this test) changes the split in the store; the gateway
        # notices by polling, while requests keep coming.
        changed = time.monotonic()
        await asyncio.to_thread(_split, project, "canary", 30.0)
        swapped = answered_by_challenger = None
        while time.monotonic() - changed < 5.0 and answered_by_challenger is None:
            response = await s.client.post("/predict", json=row)
            statuses.append(response.status_code)
            if swapped is None and s.gateway.routing.rollout.weight == 30.0:
                swapped = time.monotonic() - changed
            if response.headers["x-mlgate-role"] == "challenger":
                answered_by_challenger = time.monotonic() - changed
                assert response.headers["x-mlgate-version"] == "2"
            await asyncio.sleep(0.005)
        assert swapped is not None, "the gateway never took the new split"
        assert swapped < 1.0, f"the gateway took the new split after {swapped:.2f} s"
        assert answered_by_challenger is not None, "the challenger never answered"

        answered = []
        for _ in range(400):
            response = await s.client.post("/predict", json=row)
            statuses.append(response.status_code)
            answered.append(response.headers["x-mlgate-version"])
        metrics = (await s.client.get("/metrics")).text
    assert set(statuses) == {200}, "no request may fail while the routing is swapped"
    share = 100 * answered.count("2") / len(answered)
    assert 20.0 <= share <= 40.0, f"{share:.1f}% of keyless requests went to the challenger"
    assert _metric(metrics, "mlgate_rollout_weight", model=MODEL) == 30.0
    assert _metric(metrics, "mlgate_rollout_strategy", model=MODEL, strategy="canary") == 1.0
    assert _metric(metrics, "mlgate_rollout_strategy", model=MODEL, strategy="none") == 0.0


async def test_keyed_requests_are_sticky(serve: Any, project: Any, registered: Any) -> None:
    _split(project, "canary", 30.0)
    rows = registered.lists(slice(0, 2))
    keys = [f"customer-{i}" for i in range(80)]
    async with serve() as s:
        first: dict[str, str] = {}
        for key in keys:
            response = await s.client.post(
                "/predict", json={"instances": rows}, headers={"x-mlgate-key": key}
            )
            first[key] = response.headers["x-mlgate-version"]
        for key in reversed(keys):  # again, by another protocol, in another order
            response = await s.client.post(
                "/invocations", json={"inputs": rows}, headers={"x-mlgate-key": key}
            )
            assert response.headers["x-mlgate-version"] == first[key], key
    for key, version in first.items():
        assert version == ("2" if bucket(key, MODEL) < 30.0 else "1"), key
    assert 10 <= list(first.values()).count("2") <= 40


async def test_blue_green_switches_all_and_back(serve: Any, project: Any, registered: Any) -> None:
    rows = {"instances": registered.lists()}
    async with serve(poll_interval=0.05) as s:
        _split(project, "blue-green", 100.0)
        s.gateway.refresh()
        switched = await s.client.post("/predict", json=rows)
        _split(project, "blue-green", 0.0)
        s.gateway.refresh()
        back = await s.client.post("/predict", json=rows)
    assert switched.headers["x-mlgate-version"] == "2"
    assert switched.json()["predictions"] == registered.labels["2"]
    assert back.headers["x-mlgate-version"] == "1"
    assert back.json()["predictions"] == registered.labels["1"]


async def test_shadow_answers_with_the_champion_and_logs_the_challenger(
    serve: Any, project: Any, registered: Any
) -> None:
    _split(project, "shadow", 0.0)
    async with serve() as s:
        whole = await s.client.post(
            "/predict", json={"instances": registered.records()}, headers={"x-request-id": "all"}
        )
        assert whole.json()["request_id"] != "all"  # the gateway's own; the client's beside it
        singles = []
        for i in range(10):
            singles.append(
                await s.client.post(
                    "/invocations",
                    json={"instances": registered.lists(slice(i, i + 1))},
                    headers={"x-mlgate-key": f"k{i}", "x-request-id": f"one-{i}"},
                )
            )
        metrics = (await s.client.get("/metrics")).text
    assert whole.headers["x-mlgate-version"] == "1"
    assert whole.json()["predictions"] == registered.labels["1"]
    for i, response in enumerate(singles):
        assert response.headers["x-mlgate-version"] == "1"
        assert labels_of(response.json()) == registered.labels["1"][i : i + 1]
    assert _metric(metrics, "mlgate_shadow_predictions_total", model=MODEL, version="2") == 0.0
    assert (
        _metric(metrics, "mlgate_shadow_predictions_total", model=MODEL, outcome="ok", version="2")
        == 11.0
    )

    shadow = read_log(
        project.logs,
        "predictions",
        "SELECT row, version, served, prediction FROM log "
        "WHERE client_request_id = 'all' AND role = 'shadow' ORDER BY row",
    )
    assert len(shadow) == len(registered.test)
    assert set(shadow["version"]) == {"2"}
    assert not shadow["served"].any()
    assert shadow["prediction"].tolist() == [str(v) for v in registered.labels["2"]]
    served = read_log(
        project.logs,
        "predictions",
        "SELECT role, version, count(*) AS n FROM log GROUP BY ALL ORDER BY role",
    )
    assert served.to_dict("records") == [
        {"role": "champion", "version": "1", "n": 130},
        {"role": "shadow", "version": "2", "n": 130},
    ]


def _break(challenger: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the loaded challenger raises on every prediction."""

    def boom(columns: Any) -> Any:
        raise RuntimeError("challenger exploded")

    monkeypatch.setattr(challenger, "predict", boom)


async def test_a_failing_challenger_is_answered_by_the_champion(
    serve: Any, project: Any, registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _split(project, "canary", 100.0)
    rows = registered.lists(slice(0, 4))
    async with serve(role_header=True) as s:
        _break(s.gateway.routing.challenger, monkeypatch)
        responses = [
            await s.client.post(
                "/predict", json={"instances": rows}, headers={"x-request-id": f"r{i}"}
            )
            for i in range(6)
        ]
        metrics = (await s.client.get("/metrics")).text
    for response in responses:
        assert response.status_code == 200
        assert response.headers["x-mlgate-version"] == "1"
        assert response.headers["x-mlgate-role"] == "champion"
        assert response.json()["predictions"] == registered.labels["1"][:4]
    assert _metric(metrics, "mlgate_challenger_fallbacks_total", model=MODEL, version="2") == 6
    log = read_log(
        project.logs,
        "predictions",
        "SELECT role, version, served, coalesce(error, '-') AS error, count(*) AS n "
        "FROM log GROUP BY ALL ORDER BY role",
    )
    assert log.to_dict("records") == [
        {"role": "challenger", "version": "2", "served": False, "n": 24}
        | {"error": "RuntimeError: challenger exploded"},
        {"role": "champion", "version": "1", "served": True, "error": "-", "n": 24},
    ]


async def test_a_failing_shadow_never_touches_the_response(
    serve: Any, project: Any, registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _split(project, "shadow", 0.0)
    async with serve() as s:
        _break(s.gateway.routing.challenger, monkeypatch)
        responses = [
            await s.client.post(
                "/invocations", json={"dataframe_records": registered.records(slice(i, i + 3))}
            )
            for i in range(5)
        ]
        metrics = (await s.client.get("/metrics")).text
    for i, response in enumerate(responses):
        assert response.status_code == 200
        assert response.headers["x-mlgate-version"] == "1"
        assert labels_of(response.json()) == registered.labels["1"][i : i + 3]
    assert (
        _metric(
            metrics, "mlgate_shadow_predictions_total", model=MODEL, outcome="error", version="2"
        )
        == 5.0
    )
    assert _metric(metrics, "mlgate_challenger_fallbacks_total", model=MODEL, version="2") == 0
    log = read_log(
        project.logs,
        "predictions",
        "SELECT role, coalesce(error, '-') AS error, count(*) AS n FROM log "
        "GROUP BY ALL ORDER BY role",
    )
    assert log.to_dict("records") == [
        {"role": "champion", "error": "-", "n": 15},
        {"role": "shadow", "error": "RuntimeError: challenger exploded", "n": 15},
    ]


async def test_without_fallback_a_failing_challenger_is_a_500(
    serve: Any, project: Any, registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _split(project, "canary", 100.0)
    async with serve(challenger_fallback=False) as s:
        _break(s.gateway.routing.challenger, monkeypatch)
        with monkeypatch.context() as quiet:
            quiet.setattr("mlgate.serving.responses.log.exception", lambda *a, **k: None)
            transport = s.client._transport
            quiet.setattr(transport, "raise_app_exceptions", False)
            response = await s.client.post(
                "/predict", json={"instances": registered.lists(slice(0, 1))}
            )
        metrics = (await s.client.get("/metrics")).text
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; see the gateway's log"}
    assert (
        _metric(
            metrics, "mlgate_request_errors_total", code="internal", model=MODEL, route="predict"
        )
        == 1.0
    )
