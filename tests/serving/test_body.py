"""Request bodies: the size limit, and JSON that is not: each a 4xx JSON refusal.

One gateway for the module (refusals change nothing), with small limits:
5 rows per request and 4096 bytes per body.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from serving.requests import ROW, error

pytestmark = pytest.mark.anyio


MAX_ROWS, MAX_BYTES = 5, 4096


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    return kit.make_gateway(module_project, max_batch_rows=MAX_ROWS, max_body_bytes=MAX_BYTES)


async def _post_raw(s: Any, raw: bytes, path: str = "/predict") -> Any:
    return await s.client.post(path, content=raw, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"instances": [', "the body is not valid JSON: unexpected end of data"),
        (b'{"instances": [[NaN]]}', "the body is not valid JSON: unexpected character"),
        (b'{"instances": [[1e999, NaN]]}', "the body is not valid JSON: number is infinity"),
        (b"\xff\xfe{}", "the body is not UTF-8 text (byte 0): send JSON encoded as UTF-8"),
        (b'{"instances": [[1, "s\xfcr"]]}', "the body is not UTF-8 text (byte 21)"),
        (gzip.compress(b'{"instances": []}', mtime=0), "the body is not UTF-8 text (byte 1)"),
        (b'{"b": 1e999, "a": "\\ud800"}', "the body is not valid JSON: number is infinity"),
    ],
)
async def test_malformed_json_is_400(kit: Any, gateway: Any, raw: bytes, message: str) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await _post_raw(s, raw)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message), response.json()
    assert response.json()["detail"] == {"code": "bad_json"}


@pytest.mark.parametrize("raw", [b"", b"  \n"])
async def test_an_empty_body_is_400(kit: Any, gateway: Any, raw: bytes) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await _post_raw(s, raw)
    assert response.status_code == 400
    assert response.json() == error("the request has no body; send JSON", "bad_body")


def _big_body() -> bytes:
    raw = orjson.dumps({"instances": [ROW], "padding": "x" * MAX_BYTES})
    assert len(raw) > MAX_BYTES
    return raw


async def test_a_body_over_the_limit_is_413(kit: Any, gateway: Any) -> None:
    raw = _big_body()
    async with kit.running(gateway, lifespan=False) as s:
        response = await _post_raw(s, raw)
    assert response.status_code == 413
    assert response.json() == error(
        f"the body is {len(raw)} bytes; at most 4096 are accepted (MLGATE_MAX_BODY_BYTES): "
        "send fewer rows per request",
        "too_large",
    )


async def test_a_body_over_the_limit_is_413_when_content_length_lies(
    kit: Any, gateway: Any
) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post(
            "/predict",
            content=_big_body(),
            headers={"content-type": "application/json", "content-length": "100"},
        )
    assert response.request.headers["content-length"] == "100"
    assert response.status_code == 413
    assert response.json() == error(
        "the body is over 4096 bytes, the most accepted (MLGATE_MAX_BODY_BYTES): "
        "send fewer rows per request",
        "too_large",
    )


async def test_a_body_over_the_limit_is_413_when_chunked(kit: Any, gateway: Any) -> None:
    raw = _big_body()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 512):
            yield raw[start : start + 512]

    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post(
            "/predict", content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["detail"] == {"code": "too_large"}


async def test_a_content_length_that_is_not_a_number_is_400(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post(
            "/predict", content=b"{}", headers={"content-length": "lots"}
        )
    assert response.status_code == 400
    assert response.json() == error(
        "the Content-Length header is not a number: 'lots'", "bad_header"
    )


async def test_nan_written_by_python_gets_a_hint(kit: Any, gateway: Any) -> None:
    raw = b'{"instances": [[41, NaN, 0.31, 690, "employed", "north"]]}'
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post(
            "/predict", content=raw, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"].endswith(
        "; NaN and Infinity are not JSON: send null for a missing value"
    )
