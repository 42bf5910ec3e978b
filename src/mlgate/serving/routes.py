"""Routes as data, and what their handlers read from a request.

Each concern's module (`protocols/`, `feedback`, `admin`) lists its routes as
`Route` values; `app.create_app` adds them. Handlers are module-level functions:
FastAPI's endpoints take the `Request` and find the gateway on the app
(`gateway_of`); a prediction route's `answer` takes the gateway itself, the parsed
body and the `Caller`, so the fast path calls the very same function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate.serving.body import decode, off_loop, read_body
from mlgate.serving.request_ids import Caller, client_request_id, routing_key
from mlgate.serving.responses import ErrorForm

if TYPE_CHECKING:
    from mlgate.serving.gateway import Gateway

__all__ = [
    "Answer",
    "Check",
    "Route",
    "client_address",
    "gateway_of",
    "prediction_request",
    "route_name",
]


#: A prediction route's handler: (gateway, parsed body, caller) -> the response.
Answer = Callable[["Gateway", Any, Caller], Awaitable[Response]]
#: A check of a path parameter, before the body is read: (gateway, value) -> None or raise.
Check = Callable[["Gateway", str], None]


@dataclass(frozen=True)
class Route:
    """One route: what FastAPI routes (and documents), and for a prediction route, the
    handler the fast path calls directly.

    Endpoints carry no docstring unless it is meant for the OpenAPI document: FastAPI
    publishes an endpoint's docstring as its operation's description.
    """

    method: str
    path: str
    endpoint: Callable[..., Awaitable[Response]]
    #: The route's name: its OpenAPI operation id, and its label in the error metrics.
    name: str
    tag: str
    _: KW_ONLY
    #: `openapi_extra` for a body read by hand (see `schemas.body`).
    body: dict[str, Any] | None = None
    #: A prediction route's handler of a parsed body, for the fast path.
    answer: Answer | None = None
    #: For a fast route with a path parameter: its check.
    check: Check | None = None
    #: Whether the route also takes text/csv bodies.
    csv: bool = False
    #: Whether the route takes the KServe V2 binary data extension.
    binary: bool = False
    #: The route's protocol's own shape of a refusal (MLflow's), if not mlgate's.
    errors: ErrorForm | None = None


def gateway_of(request: Request) -> Gateway:
    """The gateway the request's app serves."""
    gateway: Gateway = request.app.state.gateway
    return gateway


async def prediction_request(
    request: Request, gateway: Gateway, *, csv: bool = False, binary: bool = False
) -> tuple[Any, Caller]:
    """A prediction request's parsed body (off the event loop when large) and its caller,
    as the fast path reads them: the headers are checked before the body is read."""
    headers = request.headers
    key = routing_key(headers.get("x-mlgate-key"))
    client_id = client_request_id(headers.get("x-request-id"))
    raw = await read_body(request, gateway.settings.max_body_bytes, csv=csv, binary=binary)
    body = await off_loop(len(raw.data), decode, raw)
    return body, Caller(key, client_id, len(raw.data))


def client_address(request: Request) -> str:
    """The address the request came from (as uvicorn gives it: a trusted proxy's forward)."""
    return request.client.host if request.client else "unknown"


def route_name(request: Request) -> str:
    """The matched route's name, a bounded metric label (the raw path is not)."""
    return str(getattr(request.scope.get("route"), "name", None) or "unmatched")
