"""A direct ASGI path to the prediction routes, beside FastAPI's routing.

For a one-row prediction, FastAPI's own work per request (its middleware, matching
the path against every route in turn, solving dependencies, telemetry hooks)
costs about as much as mlgate's checking, routing, predicting and logging
together. POST requests to the prediction routes therefore go straight to their
handlers; every other request, and these routes' OpenAPI document, stay with
FastAPI. The handlers are the functions the FastAPI routes call too, bodies are
read by the same `body.receive_body` and headers checked by the same functions
(`request_ids`), and errors go through the one error mapping (`responses.failure`),
so both paths answer alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from mlgate.serving.body import decode, off_loop, receive_body
from mlgate.serving.request_ids import Caller, client_request_id, routing_key
from mlgate.serving.responses import ErrorForm, failure
from mlgate.serving.routes import Answer, Check

if TYPE_CHECKING:
    from mlgate.serving.gateway import Gateway

__all__ = ["FastPath", "FastRoute", "GatewayApp"]


@dataclass(frozen=True)
class FastRoute:
    """A prediction route: its name (the metric label FastAPI's route has) and handler."""

    name: str
    answer: Answer
    #: For a templated path: checks the path parameter before the body is read.
    check: Check | None = None
    #: Whether the route also takes text/csv bodies.
    csv: bool = False
    #: Whether the route takes the KServe V2 binary data extension.
    binary: bool = False
    #: The route's own shape of a refusal, if not mlgate's.
    errors: ErrorForm | None = None


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body's chunks, as Starlette's `Request.stream()` gives them."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


class FastPath:
    """Exact paths and `prefix{param}suffix` templates answered without FastAPI's routing."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.limit = gateway.settings.max_body_bytes
        self._exact: dict[str, FastRoute] = {}
        self._templates: list[tuple[str, str, FastRoute]] = []

    def add(self, path: str, route: FastRoute) -> None:
        """Answer POST `path` with `route`; a `{param}` in it matches one path segment."""
        prefix, brace, rest = path.partition("{")
        if not brace:
            self._exact[path] = route
            return
        _, _, suffix = rest.partition("}")
        if route.check is None:
            raise ValueError(f"{path}: a templated route needs a check of its parameter")
        self._templates.append((prefix, suffix, route))

    def match(self, scope: Scope) -> tuple[FastRoute, str | None] | None:
        """The route and path parameter for `scope`, or None to leave it to FastAPI."""
        if scope["method"] != "POST" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        found = self._exact.get(path)
        if found is not None:
            return found, None
        for prefix, suffix, route in self._templates:
            if path.startswith(prefix) and path.endswith(suffix):
                param = path[len(prefix) : len(path) - len(suffix)]
                if param and "/" not in param:  # Starlette's {param}: one segment
                    return route, param
        return None

    async def handle(
        self, scope: Scope, receive: Receive, send: Send, route: FastRoute, param: str | None
    ) -> None:
        """Answer one request, with errors handled the way the app's handlers do."""
        key = request_id = declared = kind = encoding = json_size = None
        browser = False
        for name, value in scope["headers"]:  # the first of each, as Headers.get
            if name == b"content-length":
                declared = value.decode("latin-1") if declared is None else declared
            elif name == b"content-type":
                kind = value.decode("latin-1") if kind is None else kind
            elif name == b"x-mlgate-key":
                key = value.decode("latin-1") if key is None else key
            elif name == b"x-request-id":
                request_id = value.decode("latin-1") if request_id is None else request_id
            elif name == b"content-encoding":
                encoding = value.decode("latin-1") if encoding is None else encoding
            elif name == b"origin":
                browser = True
            elif name == b"inference-header-content-length":
                json_size = value.decode("latin-1") if json_size is None else json_size
        gateway = self.gateway
        try:
            if route.check is not None and param is not None:
                route.check(gateway, param)
            key, request_id = routing_key(key), client_request_id(request_id)
            raw = await receive_body(
                declared,
                kind,
                encoding,
                _chunks(receive),
                self.limit,
                csv=route.csv,
                browser=browser,
                json_size=json_size,
                binary=route.binary,
            )
            body = await off_loop(len(raw.data), decode, raw)
            response = await route.answer(gateway, body, Caller(key, request_id, len(raw.data)))
        except Exception as error:
            response, again = failure(gateway, error, route.name, scope["path"], route.errors)
            await response(scope, receive, send)
            if again:  # as Starlette's ServerErrorMiddleware: the server logs it too
                raise
            return
        try:
            await response(scope, receive, send)
        except Exception as error:  # sending, or a background task: too late to answer
            failure(gateway, error, route.name, scope["path"], route.errors)
            raise


class GatewayApp(FastAPI):
    """FastAPI, with the prediction routes answered by `fast_path` first.

    FastAPI routes everything when the app has middleware of its own, or when its
    OpenTelemetry support is on (a tracer, meter or logger provider configured):
    those must see every request.
    """

    fast_path: FastPath | None = None
    _observed: bool | None = None

    def _traced(self) -> bool:
        """Whether FastAPI's own OpenTelemetry is on; asked once, at the first request."""
        if self._observed is None:
            native = getattr(self, "_native_telemetry", None)
            self._observed = bool(native is not None and native.enabled())
        return self._observed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if (
            fast is not None
            and scope["type"] == "http"
            and not self.user_middleware
            and not self._traced()
        ):
            found = fast.match(scope)
            if found is not None:
                scope["app"] = self
                await fast.handle(scope, receive, send, *found)
                return
        await super().__call__(scope, receive, send)
