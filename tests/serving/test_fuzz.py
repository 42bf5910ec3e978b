"""Fuzzing every route: no input makes the gateway answer 5xx.

schemathesis generates valid and invalid requests for each operation of the
app's own /openapi.json and calls the app in-process (ASGI); each case goes
once without credentials and once with the admin token, so the admin routes
are fuzzed past their lock too. Then near-valid requests (a valid one with one
thing changed) reach the checks deeper down, over HTTP.
Set FUZZ_EXAMPLES (default 20 per operation) to search longer.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlgate.serving.app import create_app  # noqa: E402
from mlgate.serving.tokens import TokenGuard  # noqa: E402

TOKEN = "fuzz-admin-token"


@pytest.fixture(scope="module")
def api(kit: Any, module_project: Any) -> Iterator[Any]:
    gateway = kit.make_gateway(
        module_project, admin_token=TOKEN, max_batch_rows=50, max_body_bytes=64 * 1024
    )
    gateway.tokens = TokenGuard(failures=10**9)  # every case is tried without the token too
    app = create_app(gateway)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    # schemathesis keeps an app's lifespan running for the whole process: end this one.
    from schemathesis.python import asgi

    asgi.shutdown_lifespans()


ROUTES = [
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2"),
    ("GET", "/v2/models"),
    ("POST", "/v2/repository/index"),
    ("GET", "/v2/models/{model_name}"),
    ("GET", "/v2/models/{model_name}/ready"),
    ("GET", "/v2/models/{model_name}/config"),
    ("POST", "/v2/models/{model_name}/infer"),
    ("GET", "/v2/models/{model_name}/versions/{version}"),
    ("GET", "/v2/models/{model_name}/versions/{version}/ready"),
    ("GET", "/v2/models/{model_name}/versions/{version}/config"),
    ("POST", "/v2/models/{model_name}/versions/{version}/infer"),
    ("POST", "/v2/models/{model_name}/explain"),
    ("POST", "/v2/models/{model_name}/versions/{version}/explain"),
    ("GET", "/ping"),
    ("GET", "/health"),
    ("GET", "/version"),
    ("POST", "/invocations"),
    ("POST", "/predict"),
    ("POST", "/feedback"),
    ("GET", "/metrics"),
    ("GET", "/judge/{model}"),
    ("POST", "/judge/{model}"),
    ("GET", "/admin/rollout"),
    ("POST", "/admin/rollout"),
    ("POST", "/admin/rollout/start"),
    ("POST", "/admin/rollout/promote"),
    ("POST", "/admin/rollout/abort"),
    ("POST", "/admin/promote"),
    ("POST", "/admin/rollback"),
    ("GET", "/ui"),
    ("GET", "/ui/static/{name}"),
    ("GET", "/ui/api/rollout"),
    ("GET", "/ui/api/models"),
    ("GET", "/ui/api/versions/{version}"),
    ("GET", "/ui/api/traffic"),
]


WITH_BODY = {
    ("POST", "/v2/models/{model_name}/infer"),
    ("POST", "/v2/models/{model_name}/versions/{version}/infer"),
    ("POST", "/v2/models/{model_name}/explain"),
    ("POST", "/v2/models/{model_name}/versions/{version}/explain"),
    ("POST", "/invocations"),
    ("POST", "/predict"),
    ("POST", "/feedback"),
    ("POST", "/judge/{model}"),
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
            assert {"error", "message", "detail"} & set(response.json())


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_route_answers_5xx(api: Any, method: str, path: str, mode: str) -> None:
    operation = api[path][method]
    if mode == "negative" and (method, path) not in WITH_BODY:
        pytest.skip("no body, and any text is a valid path parameter: nothing to make invalid")
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20")),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        _check(case)

    fuzz()


# --- near-valid requests ---------------------------------------------------------------------
#
# Bodies generated from the OpenAPI document are mostly refused at the first check (no
# tensor is named after a feature, no record has the model's keys), so they never reach
# the code behind it. These start from a valid request and change one thing in it, over
# HTTP to a real uvicorn on 127.0.0.1.

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in `value`; in a list only the first item (the others are alike), so
    the structure around the data gets changed as often as the data."""
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*here, key))
    elif isinstance(value, list) and value:
        found += _paths(value[0], (*here, 0))
    return found


@st.composite
def _mutated(draw: Any, body: Any) -> Any:
    """`body` with one place in it replaced, removed, or given a sibling."""
    body = copy.deepcopy(body)
    path = draw(st.sampled_from(_paths(body)))
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if not path:
        return draw(_JSON) if action != "add" else [body]
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = draw(_JSON)
    elif action == "remove":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(_JSON)
    else:
        parent.insert(last, draw(_JSON))
    return body


def _valid_bodies(registered: Any) -> list[tuple[str, Any]]:
    rows = slice(0, 2)
    lists, records, columns = (
        registered.lists(rows),
        registered.records(rows),
        registered.columns(rows),
    )
    tensor = {"name": "input", "shape": [2, 6], "datatype": "BYTES", "data": lists}
    per_feature = [
        {"name": name, "shape": [2], "datatype": "BYTES", "data": values}
        for name, values in columns.items()
    ]
    return [
        ("/predict", {"instances": lists}),
        ("/predict", {"instances": records}),
        ("/invocations", {"dataframe_split": {"columns": registered.features, "data": lists}}),
        ("/invocations", {"dataframe_records": records}),
        ("/invocations", {"inputs": columns}),
        (
            "/v2/models/credit-risk/infer",
            {"id": "x", "inputs": [tensor], "outputs": [{"name": "label"}]},
        ),
        (
            "/v2/models/credit-risk/infer",
            {"inputs": per_feature, "outputs": [{"name": "label"}]},
        ),
        ("/feedback", {"feedback": [{"request_id": "r", "row": 1, "label": 0}]}),
        ("/admin/rollout", {"strategy": "canary", "weight": 20, "note": "fuzz"}),
        ("/admin/rollout/start", {"strategy": "canary", "steps": [10, 50, 100]}),
    ]


@pytest.fixture(scope="module")
def near(
    kit: Any, module_project: Any, registered: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, list[tuple[str, Any]]]]:
    # A project of its own: the schemathesis cases above may have promoted the challenger.
    project = kit.copy_project(registered, tmp_path_factory.mktemp("near") / "project")
    gateway = kit.make_gateway(project, admin_token=TOKEN, max_batch_rows=50)
    gateway.tokens = TokenGuard(failures=10**9)
    # A new connection per request: on a loaded machine a kept-alive connection can be
    # closed by the server's idle timeout just as the next request goes out on it.
    limits = httpx.Limits(max_keepalive_connections=0)
    with (
        kit.in_thread(gateway) as url,
        httpx.Client(base_url=url, timeout=30, limits=limits) as client,
    ):
        yield client, _valid_bodies(registered)


@pytest.mark.parametrize("which", range(10))
def test_near_valid_requests_never_answer_5xx(near: Any, which: int) -> None:
    client, bodies = near
    path, valid = bodies[which]
    first = client.post(path, json=valid, headers={"authorization": f"Bearer {TOKEN}"})
    assert first.status_code == 200, first.text  # the starting point is valid

    @given(body=_mutated(valid))
    @settings(
        max_examples=3 * int(os.environ.get("FUZZ_EXAMPLES", "20")),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(body: Any) -> None:
        if path == "/admin/rollout/start":  # else every start after the first is a 409
            client.post("/admin/rollout/abort", headers={"authorization": f"Bearer {TOKEN}"})
        for headers in ({}, {"authorization": f"Bearer {TOKEN}"}):
            response = client.post(path, json=body, headers=headers)
            assert response.status_code < 500, f"{path} {body!r:.500} -> {response.text}"
            if response.status_code >= 400:  # /invocations answers in MLflow's shape
                shape = {"error_code", "message"} if path == "/invocations" else {"error"}
                assert set(response.json()) == shape | {"detail"}, response.text

    fuzz()
