"""The direct ASGI path answers exactly as FastAPI's routing of the same handlers does.

Every request below goes once to the app as built (prediction routes on the fast
path) and once to the same app with the fast path switched off; status, content
type and body must be equal, for good requests and for every kind of refusal.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from serving.requests import MODEL

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    return kit.make_gateway(module_project, max_body_bytes=4096, max_batch_rows=5)


def _cases(registered: Any) -> list[tuple[str, dict[str, str], bytes]]:
    rows, records = registered.lists(slice(0, 3)), registered.records(slice(0, 3))
    v2 = {
        "inputs": [
            {"name": f, "shape": [3], "datatype": "BYTES", "data": values}
            for f, values in registered.columns(slice(0, 3)).items()
        ]
    }
    good = [
        ("/predict", {"instances": rows}),
        ("/predict", {"instances": records}),
        ("/invocations", {"dataframe_split": {"columns": registered.features, "data": rows}}),
        ("/invocations", {"dataframe_records": records}),
        ("/invocations", {"instances": records}),
        (f"/v2/models/{MODEL}/infer", v2),
    ]
    bad: list[tuple[str, Any]] = [
        ("/predict", {"rows": rows}),
        ("/predict", {"instances": [row[:-1] for row in rows]}),
        ("/predict", {"instances": registered.lists(slice(0, 6))}),  # over max_batch_rows
        ("/predict", []),
        ("/invocations", {"dataframe_split": {"columns": ["nope"], "data": [[1]]}}),
        ("/v2/models/other/infer", v2),
        (f"/v2/models/{MODEL}/infer", {"inputs": [{"name": "age", "datatype": {}}]}),
        (f"/v2/models/{MODEL}/infer", {"inputs": []}),
    ]
    json_header = {"content-type": "application/json", "x-request-id": "fixed-id"}
    cases = [(path, json_header, json.dumps(body).encode()) for path, body in good + bad]
    cases += [
        ("/predict", json_header, b"{not json"),
        ("/predict", json_header, b""),
        ("/predict", json_header, b'{"instances": [' + b"1," * 4000 + b"1]}"),  # too large
        ("/invocations", json_header, b'{"instances": [[NaN]]}'),
        ("/predict", {**json_header, "x-mlgate-key": "user-7"}, json.dumps(good[0][1]).encode()),
    ]
    return cases


async def test_fast_path_and_fastapi_routing_answer_alike(
    kit: Any, gateway: Any, registered: Any
) -> None:
    answers: dict[bool, list[tuple[int, str, Any]]] = {}
    for fast in (True, False):
        async with kit.running(gateway, lifespan=False) as s:
            assert s.app.fast_path is not None
            if not fast:
                s.app.fast_path = None
            answers[fast] = []
            for path, headers, content in _cases(registered):
                response = await s.client.post(path, content=content, headers=headers)
                body = response.json()
                assert response.status_code < 500, (path, body)
                if response.status_code == 200:  # a new request id for every answer
                    request_id = response.headers["x-request-id"]
                    assert re.fullmatch(r"[0-9a-f]{40}", request_id)
                    body = json.loads(response.text.replace(request_id, "<id>"))
                answers[fast].append((response.status_code, response.headers["content-type"], body))
    statuses = [status for status, _, _ in answers[True]]
    assert statuses.count(200) == 7
    assert all(s >= 400 for s in statuses[6:-1])
    assert answers[True] == answers[False]
