"""Every limit the gateway puts on what a client sends, in one place.

The ones a deployment may change are settings (`MLGATE_*`, see docs/config.md);
the rest are fixed here. What each limit answers when it is crossed:

| limit | default | past it |
|---|---|---|
| one header, the request line | 8 KiB (`MLGATE_MAX_HEADER_BYTES`) | 431 (414: the line) |
| the whole request head | 32 KiB (`MLGATE_MAX_HEADERS_TOTAL_BYTES`) | 431, before it is all read |
| headers per request | 100 | 431 |
| time to send the headers | 10 s (`MLGATE_HEADER_TIMEOUT`) | 408, connection closed |
| time to send the body | 60 s (`MLGATE_BODY_TIMEOUT`) | connection closed |
| idle kept-alive connection | 5 s (`MLGATE_KEEP_ALIVE_TIMEOUT`) | connection closed |
| open connections per worker | 1000 (`MLGATE_MAX_CONNECTIONS`) | 503, connection closed |
| of them from one address | 250 (`MLGATE_MAX_CONNECTIONS_PER_ADDRESS`) | 429, connection closed |
| body | 10 MiB (`MLGATE_MAX_BODY_BYTES`) | 413 |
| rows (or labels) per request | 10,000 (`MLGATE_MAX_BATCH_ROWS`) | 413 |
| routing key, client request id | 128 printable ASCII characters | 400 |
| failed tokens per client address | 10 a minute | 429 with Retry-After |

A body larger than `OFF_LOOP_BYTES` is parsed and checked on a worker thread, so
that one large request never holds up the others (health checks included).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.config.settings import Settings

__all__ = [
    "HEADER_COUNT",
    "ID_CHARS",
    "OFF_LOOP_BYTES",
    "OFF_LOOP_ROWS",
    "TOKEN_FAILURES",
    "TOKEN_WINDOW",
    "Limits",
]

#: Most headers a request may have.
HEADER_COUNT = 100
#: Longest routing key (x-mlgate-key) and client request id (x-request-id), in characters.
ID_CHARS = 128
#: A body past this many bytes is parsed and checked off the event loop.
OFF_LOOP_BYTES = 64 * 1024
#: A batch past this many rows is predicted off the event loop, even by ONNX Runtime.
OFF_LOOP_ROWS = 1000
#: Failed bearer tokens (admin API, feedback) one client address may send in
#: `TOKEN_WINDOW` seconds before it is answered 429 until the oldest leaves the window.
TOKEN_FAILURES, TOKEN_WINDOW = 10, 60.0


@dataclass(frozen=True)
class Limits:
    """The limits a gateway applies, from its settings."""

    body_bytes: int
    batch_rows: int
    header_bytes: int
    headers_total_bytes: int
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    connections: int
    connections_per_address: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits `settings` set."""
        return cls(
            body_bytes=settings.max_body_bytes,
            batch_rows=settings.max_batch_rows,
            header_bytes=settings.max_header_bytes,
            headers_total_bytes=max(settings.max_headers_total_bytes, settings.max_header_bytes),
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            keep_alive_timeout=settings.keep_alive_timeout,
            connections=settings.max_connections,
            connections_per_address=settings.max_connections_per_address,
        )
