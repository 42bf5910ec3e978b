"""Plain JSON at /predict, answering exactly what the model itself predicts.

Every prediction below is compared with the registered version's own
scikit-learn predictions on the project's real test set (data/test.csv).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from serving.requests import MODEL

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


@pytest.fixture
def serve(kit: Any, gateway: Any) -> Any:
    """`async with serve() as s:` a client of the module's gateway (no background work)."""
    return lambda: kit.running(gateway, lifespan=False)


#: ONNX Runtime computes the forest in 32-bit floats: labels are exactly scikit-learn's (the
#: export is kept only then), but a row near a split threshold can fall on the other side in
#: a tree or two, moving a probability by 0.01 per tree (of 100).
PROBABILITY_TOLERANCE = 0.05


@pytest.mark.parametrize("form", ["lists", "records"])
async def test_predict_with_lists_and_records(serve: Any, registered: Any, form: str) -> None:
    instances = registered.lists() if form == "lists" else registered.records()
    async with serve() as s:
        response = await s.client.post(
            "/predict", json={"instances": instances}, headers={"x-request-id": "mine-1"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == registered.labels["1"]
    assert body["model"] == MODEL
    assert body["version"] == response.headers["x-mlgate-version"] == "1"
    # The gateway's own id (the client's is kept beside it in the log, not used as the id).
    assert body["request_id"] == response.headers["x-request-id"] != "mine-1"
    assert body["classes"] == [0, 1]
    np.testing.assert_allclose(
        body["probabilities"], registered.probabilities["1"], atol=PROBABILITY_TOLERANCE
    )
