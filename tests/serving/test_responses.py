"""What the gateway answers: refusals counted by route and code, and every prediction
naming the version that gave it.
"""

from __future__ import annotations

from typing import Any

import pytest

from serving.requests import MODEL, ROW

pytestmark = pytest.mark.anyio


INFER = f"/v2/models/{MODEL}/infer"


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


@pytest.fixture
def serve(kit: Any, gateway: Any) -> Any:
    """`async with serve() as s:` a client of the module's gateway (no background work)."""
    return lambda: kit.running(gateway, lifespan=False)


def _with(**changes: Any) -> dict[str, Any]:
    return {**ROW, **changes}


def _refused(metrics: str, code: str, route: str) -> float:
    prefix = f'mlgate_request_errors_total{{code="{code}",model="credit-risk",route="{route}"}} '
    found = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(found[0].removeprefix(prefix)) if found else 0.0


async def test_refusals_are_counted_and_change_nothing(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        before = (await s.client.get("/metrics")).text
        logged = gateway.predictions.records
        for _ in range(3):
            await s.client.post("/predict", json={"instances": [_with(age="old")]})
        await s.client.post("/v2/models/nope/infer", json={})
        metrics = (await s.client.get("/metrics")).text
    assert gateway.predictions.records == logged
    assert _refused(metrics, "not_a_number", "predict") - _refused(
        before, "not_a_number", "predict"
    ) == pytest.approx(3.0)
    # Labelled by route, not by the path a client made up: the series stay bounded.
    assert 'code="unknown_model",model="credit-risk",route="v2"' in metrics
    assert "nope" not in metrics


@pytest.mark.parametrize("role", [False, True], ids=["default", "MLGATE_ROLE_HEADER"])
async def test_every_prediction_response_names_its_version(
    serve: Any, gateway: Any, registered: Any, role: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = registered.lists(slice(0, 3))
    monkeypatch.setattr(gateway.settings, "role_header", role)
    async with serve() as s:
        responses = [
            await s.client.post("/predict", json={"instances": rows}),
            await s.client.post("/invocations", json={"instances": rows}),
            await s.client.post(
                INFER,
                json={
                    "inputs": [{"name": "x", "shape": [3, 6], "datatype": "BYTES", "data": rows}]
                },
            ),
        ]
    for response in responses:
        assert response.status_code == 200
        assert response.headers["x-mlgate-version"] == "1"
        # Which role answered is told only when asked for: a client that sends labels
        # could aim them at one version.
        assert response.headers.get("x-mlgate-role") == ("champion" if role else None)
        body = response.json()
        assert body.get("version", body.get("model_version")) == "1"
        if "parameters" in body:  # V2
            assert body["parameters"].get("role") == ("champion" if role else None)
