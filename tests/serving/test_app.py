"""The app as built: every route it serves is in its OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from serving.requests import MODEL

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


async def test_openapi_lists_every_route(serve: Any) -> None:
    async with serve() as s:
        document = (await s.client.get("/openapi.json")).json()
        routes = {
            (method.lower(), route.path)
            for route in s.app.routes
            for method in getattr(route, "methods", ())
            if route.path not in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
            and method != "HEAD"
        }
    documented = {(m, path) for path, item in document["paths"].items() for m in item}
    assert routes == documented
    for path in ("/predict", "/invocations", INFER.replace(MODEL, "{model_name}"), "/feedback"):
        body = document["paths"][path]["post"]["requestBody"]
        assert "application/json" in body["content"], path
    assert {"/metrics", "/admin/rollout", "/admin/promote", "/admin/rollback"} <= set(
        document["paths"]
    )
