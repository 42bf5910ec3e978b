"""Fuzzing every route of the app's own OpenAPI document: no input makes it answer 5xx.

schemathesis generates valid and invalid requests for each operation and calls
the app in-process (ASGI); each case goes once without credentials and once
with the admin token, so the admin routes are fuzzed past their lock too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from mlgate.serving.app import create_app  # noqa: E402

TOKEN = "fuzz-admin-token"


@pytest.fixture(scope="module")
def api(kit: Any, module_project: Any) -> Iterator[Any]:
    gateway = kit.make_gateway(
        module_project, admin_token=TOKEN, max_batch_rows=50, max_body_bytes=64 * 1024
    )
    app = create_app(gateway)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    # schemathesis keeps an app's lifespan running for the whole process: end this one.
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


ROUTES = [
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2"),
    ("GET", "/v2/models/{model_name}"),
    ("GET", "/v2/models/{model_name}/ready"),
    ("POST", "/v2/models/{model_name}/infer"),
    ("GET", "/ping"),
    ("GET", "/health"),
    ("GET", "/version"),
    ("POST", "/invocations"),
    ("POST", "/predict"),
    ("POST", "/feedback"),
    ("GET", "/metrics"),
    ("GET", "/admin/rollout"),
    ("POST", "/admin/rollout"),
    ("POST", "/admin/rollout/start"),
    ("POST", "/admin/rollout/promote"),
    ("POST", "/admin/rollout/abort"),
    ("POST", "/admin/promote"),
    ("POST", "/admin/rollback"),
]


WITH_BODY = {
    ("POST", "/v2/models/{model_name}/infer"),
    ("POST", "/invocations"),
    ("POST", "/predict"),
    ("POST", "/feedback"),
    ("POST", "/admin/rollout"),
    ("POST", "/admin/rollout/start"),
}


def test_every_route_is_fuzzed(api: Any) -> None:
    documented = {(o.ok().method.upper(), o.ok().path) for o in api.get_all_operations()}
    assert documented == set(ROUTES)


def _check(case: Any) -> None:
    for headers in ({}, {"authorization": f"Bearer {TOKEN}"}):
        response = case.call(headers=headers)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: "
            f"{response.text[:500]}\nbody: {case.body!r:.500}"
        )
        if response.status_code >= 400:
            assert response.headers["content-type"] == ["application/json"]
            assert "error" in response.json() or "detail" in response.json()


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_route_answers_5xx(api: Any, method: str, path: str, mode: str) -> None:
    operation = api[path][method]
    if mode == "negative" and (method, path) not in WITH_BODY:
        pytest.skip("no body, and any text is a valid path parameter: nothing to make invalid")
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        _check(case)

    fuzz()
