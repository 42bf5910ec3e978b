"""Each connection's limits, kept before the app sees a request: header sizes, the time a
client has to send its request, and the number of open connections.

uvicorn's HTTP parser (httptools) reads headers of any size and waits for them
forever: `timeout_keep_alive` only runs between requests, and any byte received
stops it, so a client that sends half a request line and then one byte a minute
holds its connection (and a file descriptor) for as long as it likes, and one
8 MB header is read whole. h11, uvicorn's other parser, bounds the head's size
(`h11_max_incomplete_event_size`) but not the time, and is slower. mlgate serves
with httptools through `guarded(limits)`, uvicorn's own protocol with:

- a deadline per request: its headers within `header_timeout` of the connection
  opening (or of the request's first byte, on a kept-alive connection), answered
  408 and closed past it; its body within `body_timeout` once the headers are in.
  Deadlines are checked twice a second by one task per server (no timer per request);
- the head's bytes counted as they arrive, refused (431) past `headers_total_bytes`
  even while a single header is still arriving; once parsed, one header or the
  request line past `header_bytes` (431, 414) or more than `HEADER_COUNT` headers;
- a connection past `connections` answered 503 at once and closed, and one past
  `connections_per_address` from the same address (the TCP peer) answered 429, so a
  client that reopens every connection it loses cannot take them all.

Refusals are JSON, as the app's: `{"error": ..., "detail": {"code": ...}}`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import weakref
from typing import Any, cast

import orjson
from prometheus_client import Counter
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from mlgate.serving.limits import HEADER_COUNT, Limits

__all__ = ["REFUSED", "guarded"]

log = logging.getLogger(__name__)

#: Refusals made here, before any app sees a request: the gateway's metrics register it
#: (`GatewayMetrics`), so /metrics counts them beside the app's own refusals.
REFUSED = Counter(
    "mlgate_connection_refusals",
    "Requests refused before the app read them, by status and code: headers too large or "
    "too many (431, 414), too slow to arrive (408), too many connections (503) or too "
    "many from one address (429), not HTTP (400).",
    ["status", "code"],
    registry=None,
)

#: Seconds between two checks of the deadlines.
_SWEEP = 0.5
#: The sweeping task of each server, by its shared state.
_sweepers: weakref.WeakKeyDictionary[Any, asyncio.Task[None]] = weakref.WeakKeyDictionary()
#: Each server's open connections by client address.
_held: weakref.WeakKeyDictionary[Any, collections.Counter[str]] = weakref.WeakKeyDictionary()


class _Refused(Exception):
    """Raised in a parser callback: the request is answered `status` and the connection
    closed (httptools turns it into an HttpParserError, which uvicorn answers through
    `send_400_response`)."""


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the limits above (`limits` set by `guarded`)."""

    limits: Limits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = math.inf
        self._reading_head = True
        self._head_bytes = 0  # bytes received since the head began (see data_received)
        self._refusal: tuple[int, str, str] | None = None
        self._address: str | None = None  # counted in _held while open

    # the connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.connections:
            self._answer(
                503,
                "too_many_connections",
                f"the gateway has {self.limits.connections} connections open, the most it "
                "takes (MLGATE_MAX_CONNECTIONS); try again in a moment",
                retry_after=1,
            )
            return
        if self.limits.connections_per_address and self.client:
            held = _held.setdefault(self.server_state, collections.Counter())
            address = str(self.client[0])
            if held[address] >= self.limits.connections_per_address:
                self._answer(
                    429,
                    "too_many_connections_from_address",
                    f"this address has {self.limits.connections_per_address} connections open "
                    "to the gateway, the most one address may (MLGATE_MAX_CONNECTIONS_PER_"
                    "ADDRESS); reuse them, or try again in a moment",
                    retry_after=1,
                )
                return
            held[address] += 1
            self._address = address
        self._deadline = self.loop.time() + self.limits.header_timeout
        if self.server_state not in _sweepers:
            _sweepers[self.server_state] = self.loop.create_task(_sweep(self.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is not None:
            held = _held[self.server_state]
            held[self._address] -= 1
            if held[self._address] <= 0:
                del held[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Counted whole only for a chunk that starts in the head: a chunk that ends one
        # request's body and starts the next head is not (the parsed head is measured
        # whole in on_headers_complete).
        counting = self._reading_head
        if counting:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            counting
            and self._reading_head
            and self._head_bytes > self.limits.headers_total_bytes
            and not self.transport.is_closing()
        ):
            self._answer(*self._head_too_large())

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:  # one of ours, raised in a callback
            self._answer(*self._refusal)
            return
        self._answer(  # httptools could not parse it: answered in the app's JSON form
            400,
            "bad_http",
            "the request is not valid HTTP/1.1: check its request line and headers (a "
            "control character in a header value, for one)",
        )

    def expired(self, now: float) -> bool:
        """Close the connection if its request is late; whether it was."""
        if now < self._deadline or self.transport is None or self.transport.is_closing():
            return False
        self._deadline = math.inf
        cycle = self.cycle
        if self._reading_head and not self._head_bytes and cycle is None:
            # Opened and never used (a client's pool opens some ahead): closed as an idle
            # kept-alive connection is, without an answer nobody asked for.
            self.transport.close()
            return True
        if self._reading_head and (cycle is None or cycle.response_complete):
            self._answer(
                408,
                "request_timeout",
                f"the request's headers did not arrive within {self.limits.header_timeout:g} "
                "s (MLGATE_HEADER_TIMEOUT)",
            )
            return True
        if cycle is not None and not cycle.more_body:  # all in: the app answers in its time
            return False
        self.transport.close()  # the body is late: the app reading it sees the client gone
        return True

    # parser callbacks (as few as can be: each costs every request) ----------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_head:  # the next request on a kept-alive connection
            self._reading_head = True
            self._head_bytes = 0
            self._deadline = self.loop.time() + self.limits.header_timeout

    def on_headers_complete(self) -> None:
        # Sizes are checked here, once the head is parsed: its bytes were counted as they
        # came (data_received), so no more than about that many were ever held.
        limits = self.limits
        if len(self.url) > limits.header_bytes:
            self._refuse(
                414,
                "uri_too_long",
                f"the request line is over {limits.header_bytes} bytes, the most accepted "
                "(MLGATE_MAX_HEADER_BYTES)",
            )
        headers = self.headers
        if len(headers) > HEADER_COUNT:
            self._refuse(
                431,
                "too_many_headers",
                f"the request has more than {HEADER_COUNT} headers, the most accepted",
            )
        total = len(self.url)
        for name, value in headers:
            size = len(name) + len(value)
            total += size + 4  # ": " and the line's end
            if size > limits.header_bytes:
                shown = name[:40].decode("latin-1")
                self._refuse(
                    431,
                    "header_too_large",
                    f"header {shown!r} is {size} bytes; at most {limits.header_bytes} are "
                    "accepted for one header (MLGATE_MAX_HEADER_BYTES)",
                )
        if total > limits.headers_total_bytes:
            self._refuse(*self._head_too_large())
        self._reading_head = False
        self._deadline = self.loop.time() + limits.body_timeout
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope["method"] != "HEAD":  # HEAD: no body
            # Duck-typed: every other use goes through to the real transport.
            self.cycle.transport = cast(asyncio.Transport, _OneWrite(self.transport, self.cycle))

    # refusals --------------------------------------------------------------------------

    def _head_too_large(self) -> tuple[int, str, str]:
        return (
            431,
            "headers_too_large",
            f"the request's headers are over {self.limits.headers_total_bytes} bytes, the "
            "most accepted (MLGATE_MAX_HEADERS_TOTAL_BYTES)",
        )

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._refusal = (status, code, message)
        raise _Refused(message)

    def _answer(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        """Answer `status` with a JSON error body, and close the connection."""
        body = orjson.dumps({"error": message, "detail": {"code": code}})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        if retry_after:
            head.append(b"retry-after: %d\r\n" % retry_after)
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self._deadline = math.inf
        REFUSED.labels(str(status), code).inc()
        self.transport.write(b"".join(head))
        self.transport.close()
        log.debug("refused a connection from %s: %s", self.client, message)


async def _sweep(connections: set[Any]) -> None:
    """Close the connections whose request is late, twice a second, for as long as the
    server runs."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(_SWEEP)
        now = loop.time()
        for connection in list(connections):
            if isinstance(connection, GuardedProtocol):
                connection.expired(now)


class _OneWrite:
    """A request cycle's transport that sends a response's head with its body's first
    part, in one write: uvicorn writes them apart, and a gateway killed between the two
    left a proxy a head without its body, which it can neither finish nor retry on
    another replica. Anything written before the response starts (a 100 Continue)
    goes at once. Not for HEAD, whose response has no body."""

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head = b""
        self._written = False  # since the response started

    def write(self, data: bytes) -> None:
        if self._cycle.response_started and not self._written:
            self._written = True
            if not self._cycle.response_complete:
                self._head = bytes(data)  # the head: held for the body
                return
        if self._head:
            data, self._head = self._head + data, b""
        self._transport.write(data)

    def flush(self) -> None:
        if self._head:
            head, self._head = self._head, b""
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def guarded(limits: Limits) -> type[GuardedProtocol]:
    """The protocol class uvicorn serves with (its `http` option), keeping `limits`."""
    return type("GatewayProtocol", (GuardedProtocol,), {"limits": limits})
