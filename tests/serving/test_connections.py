"""Connections on a real uvicorn (127.0.0.1): header sizes, the time a client has to send
its request, and the connection cap, kept before the app sees a request.

Sockets are raw: an HTTP client would not send half a request line, or an 8 MB header.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

#: A request's head up to (not including) its last header.
READY = b"GET /v2/health/ready HTTP/1.1\r\nhost: gateway\r\n"


@pytest.fixture(scope="module")
def url(kit: Any, module_project: Any) -> Iterator[str]:
    """One gateway with short timeouts and a small connection cap, for the module."""
    gateway = kit.make_gateway(
        module_project,
        header_timeout=1.0,
        body_timeout=1.0,
        keep_alive_timeout=1.0,
        max_connections=40,
    )
    with kit.in_thread(gateway) as served:
        yield served


def _connect(url: str) -> socket.socket:
    where = urlsplit(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=10)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the response read from `sock` (until it closes or
    the body is complete)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the connection closed without an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` within `within` seconds (anything it sends first,
    such as a 408, is read and dropped)."""
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _exchange(url: str, raw: bytes) -> tuple[int, dict[str, str], Any]:
    with contextlib.closing(_connect(url)) as sock:
        sock.sendall(raw)
        status, headers, body = _answer(sock)
    return status, headers, json.loads(body) if body else None


def test_a_header_up_to_8_kib_is_read(url: str) -> None:
    value = b"v" * (8192 - len(b"x-note"))
    status, _, body = _exchange(url, READY + b"x-note: " + value + b"\r\n\r\n")
    assert (status, body["ready"]) == (200, True)


def test_a_header_past_8_kib_is_refused_431(url: str) -> None:
    value = b"v" * 8193
    status, headers, body = _exchange(url, READY + b"x-note: " + value + b"\r\n\r\n")
    assert status == 431
    assert headers["connection"] == "close"
    assert body == {
        "error": "header 'x-note' is 8199 bytes; at most 8192 are accepted for one header "
        "(MLGATE_MAX_HEADER_BYTES)",
        "detail": {"code": "header_too_large"},
    }


def test_an_8_mb_header_is_refused_before_it_is_read(url: str) -> None:
    with contextlib.closing(_connect(url)) as sock:
        sock.sendall(READY + b"x-mlgate-key: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 8 * 1024 * 1024:
                sock.sendall(b"k" * 65536)
                sent += 65536
        status, _, body = _answer(sock)
    assert status == 431
    assert json.loads(body) == {
        "error": "the request's headers are over 32768 bytes, the most accepted "
        "(MLGATE_MAX_HEADERS_TOTAL_BYTES)",
        "detail": {"code": "headers_too_large"},
    }
    assert sent < 8 * 1024 * 1024, "the server read the whole header"


def test_many_small_headers_add_up_to_too_large_a_head(url: str) -> None:
    headers = b"".join(b"x-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
    status, _, body = _exchange(url, READY + headers + b"\r\n")
    assert status == 431
    assert body["detail"] == {"code": "headers_too_large"}


def test_more_than_100_headers_are_refused(url: str) -> None:
    headers = b"".join(b"x-%d: v\r\n" % i for i in range(101))
    status, _, body = _exchange(url, READY + headers + b"\r\n")
    assert (status, body["error"]) == (
        431,
        "the request has more than 100 headers, the most accepted",
    )


def test_a_request_line_past_8_kib_is_refused_414(url: str) -> None:
    path = b"/v2/health/ready?" + b"q" * 8200
    status, _, body = _exchange(url, b"GET " + path + b" HTTP/1.1\r\nhost: gateway\r\n\r\n")
    assert status == 414
    assert body == {
        "error": "the request line is over 8192 bytes, the most accepted (MLGATE_MAX_HEADER_BYTES)",
        "detail": {"code": "uri_too_long"},
    }


def test_half_sent_headers_are_answered_408_and_closed(url: str) -> None:
    with contextlib.closing(_connect(url)) as sock:
        sock.sendall(READY)  # and never the blank line
        sock.settimeout(5)
        status, headers, body = _answer(sock)
        assert _closed(sock, 5)
    assert (status, headers["connection"]) == (408, "close")
    assert json.loads(body) == {
        "error": "the request's headers did not arrive within 1 s (MLGATE_HEADER_TIMEOUT)",
        "detail": {"code": "request_timeout"},
    }


def test_a_byte_now_and_then_does_not_keep_a_request_open(url: str) -> None:
    with contextlib.closing(_connect(url)) as sock:
        started = time.monotonic()
        closed = False
        for byte in READY:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.3)
            if time.monotonic() - started > 5:
                break
        assert closed or _closed(sock, 3)
    assert time.monotonic() - started < 5


def test_a_connection_that_sends_nothing_is_closed(url: str) -> None:
    with contextlib.closing(_connect(url)) as sock:
        assert _closed(sock, 5)


def test_a_body_sent_too_slowly_closes_the_connection(url: str) -> None:
    head = (
        b"POST /predict HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        b"content-length: 1000\r\n\r\n"
    )
    with contextlib.closing(_connect(url)) as sock:
        sock.sendall(head + b'{"instances": ')
        assert _closed(sock, 5)


def test_an_idle_kept_alive_connection_is_closed(url: str) -> None:
    with contextlib.closing(_connect(url)) as sock:
        sock.sendall(READY + b"\r\n")
        status, _, _ = _answer(sock)
        assert status == 200
        started = time.monotonic()
        assert _closed(sock, 5)
    assert time.monotonic() - started < 4


def test_half_open_connections_are_let_go_and_real_clients_are_served(url: str) -> None:
    # Past the cap, a connection is answered 503 at once; the half-sent ones time out,
    # and a real client is served again.
    held = [_connect(url) for _ in range(60)]
    try:
        answers = []
        for sock in held:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(READY)
        for sock in held[40:]:
            answers.append(_answer(sock)[0])
        assert set(answers) == {503}
        assert all(_closed(sock, 5) for sock in held[:40])
    finally:
        for sock in held:
            sock.close()
    response = httpx.get(f"{url}/v2/health/ready", timeout=5)
    assert response.status_code == 200


def test_the_connection_cap_answers_503_with_retry_after(url: str) -> None:
    held = [_connect(url) for _ in range(40)]
    try:
        time.sleep(0.2)  # accepted by the server
        with contextlib.closing(_connect(url)) as extra:
            status, headers, body = _answer(extra)
    finally:
        for sock in held:
            sock.close()
    assert (status, headers["retry-after"]) == (503, "1")
    assert json.loads(body) == {
        "error": "the gateway has 40 connections open, the most it takes "
        "(MLGATE_MAX_CONNECTIONS); try again in a moment",
        "detail": {"code": "too_many_connections"},
    }


def test_one_address_cannot_take_every_connection(kit: Any, module_project: Any) -> None:
    # A client that reopens each connection it loses would hold all of them: past the
    # cap per address its next is refused at once, and other addresses are served.
    gateway = kit.make_gateway(module_project, max_connections=40, max_connections_per_address=5)
    with kit.in_thread(gateway) as served:
        where = urlsplit(served)

        def connect_from(source: str) -> socket.socket:
            sock = socket.create_connection((where.hostname, where.port), 10, (source, 0))
            return sock

        held = [connect_from("127.0.0.2") for _ in range(5)]
        try:
            time.sleep(0.2)  # accepted by the server
            with contextlib.closing(connect_from("127.0.0.2")) as extra:
                status, headers, body = _answer(extra)
            with contextlib.closing(connect_from("127.0.0.3")) as other:
                other.sendall(READY + b"\r\n")
                served_other = _answer(other)[0]
            held.pop().close()
            time.sleep(0.2)  # the server saw it go
            with contextlib.closing(connect_from("127.0.0.2")) as again:
                again.sendall(READY + b"\r\n")
                served_again = _answer(again)[0]
        finally:
            for sock in held:
                sock.close()
    assert (status, headers["retry-after"]) == (429, "1")
    assert json.loads(body) == {
        "error": "this address has 5 connections open to the gateway, the most one address "
        "may (MLGATE_MAX_CONNECTIONS_PER_ADDRESS); reuse them, or try again in a moment",
        "detail": {"code": "too_many_connections_from_address"},
    }
    assert (served_other, served_again) == (200, 200)


def test_a_request_that_is_not_http_is_answered_in_json(url: str) -> None:
    status, headers, body = _exchange(url, READY + b"x-request-id: a\x01b\r\n\r\n")
    assert (status, headers["connection"], headers["content-type"]) == (
        400,
        "close",
        "application/json",
    )
    assert body == {
        "error": "the request is not valid HTTP/1.1: check its request line and headers (a "
        "control character in a header value, for one)",
        "detail": {"code": "bad_http"},
    }


def test_a_response_head_leaves_with_its_body_in_one_write() -> None:
    # uvicorn writes them apart: a gateway killed between the two writes left a proxy a
    # head it could neither finish nor retry on another replica.
    from types import SimpleNamespace

    from mlgate.serving.connections import _OneWrite

    class Recording:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

    sent = Recording()
    cycle = SimpleNamespace(response_started=False, response_complete=False)
    one = _OneWrite(sent, cycle)  # type: ignore[arg-type]
    one.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: at once
    cycle.response_started = True
    one.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert len(sent.writes) == 1
    one.write(b"{}")
    assert sent.writes == [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
    ]


def test_head_expect_continue_and_pipelined_requests_are_answered_in_order(url: str) -> None:
    with contextlib.closing(_connect(url)) as sock:
        body = b'{"instances": []}'
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
            b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body)
        )
        assert sock.recv(1000) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert _answer(sock)[0] == 422
        sock.sendall(
            b"HEAD /v2/health/ready HTTP/1.1\r\nhost: gateway\r\n\r\n"
            b"GET /v2/health/live HTTP/1.1\r\nhost: gateway\r\n\r\n"
        )
        data = b""
        deadline = time.monotonic() + 10
        while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"}"):
            assert time.monotonic() < deadline, data
            data += sock.recv(65536)
    first, second = data.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"405 ")  # no body, and nothing of it held back
    assert second.startswith(b"200 ")
    assert second.endswith(b'{"live":true}')


def test_a_request_all_in_may_take_its_time(
    kit: Any, module_project: Any, registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deadlines are for the client's sending; the answer takes what it takes.
    gateway = kit.make_gateway(module_project, header_timeout=1.0, body_timeout=1.0)
    champion = gateway.routing.champion
    predict = champion.predict

    def slowly(columns: Any) -> Any:
        time.sleep(2.5)
        return predict(columns)

    monkeypatch.setattr(champion, "predict", slowly)
    rows = (registered.lists() * 20)[:2000]  # predicted off the event loop
    with kit.in_thread(gateway) as served:
        response = httpx.post(f"{served}/predict", json={"instances": rows}, timeout=30)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 2000


def _refusals(url: str) -> dict[tuple[str, str], float]:
    """mlgate_connection_refusals_total by (status, code), from the gateway's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.labels["status"], sample.labels["code"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "mlgate_connection_refusals"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def test_refusals_made_before_the_app_are_counted_in_metrics(url: str) -> None:
    before = _refusals(url)
    status, _, _ = _exchange(url, READY + b"x-note: " + b"v" * 8193 + b"\r\n\r\n")
    assert status == 431
    with contextlib.closing(_connect(url)) as sock:
        sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nhost: gate")  # and no more
        late, _, _ = _answer(sock)
    assert late == 408
    after = _refusals(url)
    for key in (("431", "header_too_large"), ("408", "request_timeout")):
        assert after.get(key, 0) - before.get(key, 0) == 1, (key, after)
