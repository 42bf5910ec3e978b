"""Request ids: a client's own is echoed back only when it is plain ASCII."""

from __future__ import annotations

import re
from typing import Any

import pytest

from serving.requests import ROW

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


async def test_a_request_id_that_is_not_plain_ascii_is_replaced(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post(
            "/predict", json={"instances": [ROW]}, headers={"x-request-id": "caf\u00e9".encode()}
        )
    assert response.status_code == 200
    given = response.json()["request_id"]
    assert given != "café"
    assert re.fullmatch(r"[0-9a-f]{32}", given)
    assert response.headers["x-request-id"] == given
