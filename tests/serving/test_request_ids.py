"""Request ids: the gateway's own for every answer, signed; a client's id and routing key are
kept only when they are short printable ASCII, and refused otherwise."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mlgate.serving.request_ids import RequestIds
from serving.requests import ROW, error, mlflow_error

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


async def test_every_answer_has_a_new_id_of_the_gateways_own(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        answers = [
            await s.client.post(
                "/predict", json={"instances": [ROW]}, headers={"x-request-id": "the-same"}
            )
            for _ in range(3)
        ]
    ids = [answer.json()["request_id"] for answer in answers]
    assert len(set(ids)) == 3
    for answer, request_id in zip(answers, ids, strict=True):
        assert re.fullmatch(r"[0-9a-f]{40}", request_id)
        assert answer.headers["x-request-id"] == request_id
        assert gateway.request_ids.issued(request_id)


def test_an_id_is_issued_by_its_own_key_only() -> None:
    ours, theirs = RequestIds(b"k" * 32), RequestIds(b"other" * 4)
    issued = ours.new()
    assert ours.issued(issued)
    assert not theirs.issued(issued)
    for altered in (
        issued[:-1] + ("0" if issued[-1] != "0" else "1"),  # another signature
        ("f" if issued[0] != "f" else "e") + issued[1:],  # another random part
        issued.upper(),
        issued[:20] + " " + issued[21:],
        issued[:-2],
        "",
        "é" * 40,
    ):
        assert not ours.issued(altered), altered


def test_processes_that_share_the_store_share_the_key(kit: Any, module_project: Any) -> None:
    one, two = kit.make_gateway(module_project), kit.make_gateway(module_project)
    assert two.request_ids.issued(one.request_ids.new())


@pytest.mark.parametrize(
    ("header", "value", "shown"),
    [
        ("x-request-id", "caf\u00e9".encode(), "'caf\\xc3\\xa9'"),
        ("x-request-id", b"r" * 129, "'" + "r" * 40 + "'..."),
        ("x-mlgate-key", b"user\x01", "'user\\x01'"),
        ("x-mlgate-key", b"k" * 250_000, "'" + "k" * 40 + "'..."),
    ],
    ids=["id-not-ascii", "id-too-long", "key-control-character", "key-250-kb"],
)
async def test_a_header_unfit_to_route_by_or_log_is_refused(
    kit: Any, gateway: Any, header: str, value: bytes, shown: str
) -> None:
    what = "a user or session id" if header == "x-mlgate-key" else "your own id for this request"
    written = gateway.predictions.records
    async with kit.running(gateway, lifespan=False) as s:
        for path in ("/predict", "/invocations"):
            response = await s.client.post(path, json={"instances": [ROW]}, headers={header: value})
            assert response.status_code == 400
            refusal = mlflow_error if path == "/invocations" else error
            assert response.json() == refusal(
                f"the {header} header must be {what}, 1 to 128 printable ASCII characters; "
                f"got {len(value)} bytes: {shown}",
                "bad_header",
            )
    assert gateway.predictions.records == written, "a refused request is not logged"
