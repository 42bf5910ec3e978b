"""Routes as data, and what their handlers read from a request.

Each concern's module (`protocols/`, `feedback`, `admin`) lists its routes as
`Route` values; `app.create_app` adds them. Handlers are module-level functions:
FastAPI's endpoints take the `Request` and find the gateway on the app
(`gateway_of`); a prediction route's `answer` takes the gateway itself, so the
fast path calls the very same function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from mlgate.serving.gateway import Gateway

__all__ = ["Answer", "Check", "Route", "caller", "gateway_of", "route_name"]

#: A prediction route's handler: (gateway, body, routing key, request id) -> the response.
Answer = Callable[["Gateway", Any, "str | None", "str | None"], Awaitable[Response]]
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


def gateway_of(request: Request) -> Gateway:
    """The gateway the request's app serves."""
    gateway: Gateway = request.app.state.gateway
    return gateway


def caller(request: Request) -> tuple[str | None, str | None]:
    """The request's routing key and x-request-id header, as the fast path reads them."""
    return request.headers.get("x-mlgate-key"), request.headers.get("x-request-id")


def route_name(request: Request) -> str:
    """The matched route's name, a bounded metric label (the raw path is not)."""
    return str(getattr(request.scope.get("route"), "name", None) or "unmatched")
