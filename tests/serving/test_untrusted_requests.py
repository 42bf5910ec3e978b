"""What a client controls and the gateway must not trust: the Host header, the type and
encoding of a body, digits that are not ASCII (a real uvicorn on 127.0.0.1)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from serving.requests import LIST, MODEL, ROW, error

BODY = orjson.dumps({"instances": [ROW]})


@pytest.fixture(scope="module")
def client(kit: Any, module_project: Any) -> Iterator[httpx.Client]:
    with (
        kit.in_thread(kit.make_gateway(module_project)) as url,
        httpx.Client(base_url=url, timeout=10) as opened,
    ):
        yield opened


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/v2/health/ready/", "/v2/health/ready"),
        (f"/v2/models/{MODEL}/ready/?x=1", f"/v2/models/{MODEL}/ready?x=1"),
    ],
)
def test_a_redirect_never_names_the_host_the_client_sent(
    client: httpx.Client, path: str, location: str
) -> None:
    response = client.get(path, headers={"host": "evil.example"})
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert client.get(location).status_code == 200


def test_a_path_no_route_takes_either_way_is_404(client: httpx.Client) -> None:
    assert client.get("/nowhere/", headers={"host": "evil.example"}).status_code == 404


@pytest.mark.parametrize("path", ["/predict", "/invocations", "/feedback"])
@pytest.mark.parametrize(
    "kind", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]
)
def test_json_sent_as_another_type_is_415(client: httpx.Client, path: str, kind: str) -> None:
    # The types a web page may post to any site without a CORS preflight.
    response = client.post(path, content=BODY, headers={"content-type": kind})
    allowed = "application/json (or text/csv)" if path == "/invocations" else "application/json"
    assert response.status_code == 415
    expected = error(
        f"the body is sent with Content-Type {kind!r}; send it as {allowed}",
        "unsupported_media_type",
    )
    if path == "/invocations":  # in MLflow's shape
        expected = {"error_code": "BAD_REQUEST", "message": expected.pop("error")} | expected
    assert response.json() == expected


def test_a_body_with_no_type_is_json_unless_a_browser_sent_it(client: httpx.Client) -> None:
    # Stock Open Inference clients send no Content-Type; a browser says where it posts from.
    plain = client.post("/predict", content=BODY)
    from_page = client.post("/predict", content=BODY, headers={"origin": "https://evil.example"})
    assert plain.status_code == 200
    assert from_page.status_code == 415
    assert from_page.json()["error"] == (
        "the body is sent with no Content-Type; send it as application/json"
    )


def test_a_compressed_body_is_415_saying_so(client: httpx.Client) -> None:
    response = client.post(
        "/predict",
        content=gzip.compress(BODY),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 415
    assert response.json() == error(
        "the body is sent with Content-Encoding 'gzip', which the gateway does not decode; "
        "send it uncompressed",
        "unsupported_encoding",
    )


@pytest.mark.parametrize(
    "digit", ["\u0663", "\uff13", "\u09e9"]
)  # Arabic-Indic, fullwidth, Bengali
def test_a_number_is_written_in_ascii_digits(client: httpx.Client, digit: str) -> None:
    tensor = [{"name": "input", "shape": [1, 6], "datatype": "BYTES", "data": [LIST]}]
    tensor[0]["data"][0] = [digit, *LIST[1:]]
    response = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": tensor})
    assert response.status_code == 422
    assert response.json() == error(
        f"feature 'age' in row 0 must be a number, got {orjson.dumps(digit).decode()}",
        "not_a_number",
        row=0,
        feature="age",
    )
    assert (
        client.post(
            f"/v2/models/{MODEL}/infer",
            json={"inputs": [{**tensor[0], "data": [["3", *LIST[1:]]]}]},
        ).status_code
        == 200
    )
