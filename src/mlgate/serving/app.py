"""The gateway's ASGI app: each concern's routes, the lifespan, and the error handlers.

The routes are data in their own modules (`protocols/`, `feedback`, `admin`);
their handlers find the gateway and its rollout controller on `app.state`. The
prediction routes are also answered by the fast path (`fastpath`), which calls
the same handlers. Every error goes through one mapping (`responses.failure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mlgate._version import __version__
from mlgate.errors import MlgateError
from mlgate.rollout.controller import Controller
from mlgate.serving import admin, explain, feedback, judge, ui
from mlgate.serving.fastpath import FastPath, FastRoute, GatewayApp
from mlgate.serving.gateway import Gateway
from mlgate.serving.protocols import mlflow, plain, prometheus, v2
from mlgate.serving.responses import failure
from mlgate.serving.routes import Route, gateway_of, route_name

__all__ = ["ROUTES", "create_app"]

#: Every route, in the order FastAPI matches them and the OpenAPI document lists them.
ROUTES: tuple[Route, ...] = (
    *v2.ROUTES,
    *explain.ROUTES,
    *mlflow.ROUTES,
    *plain.ROUTES,
    *feedback.ROUTES,
    *prometheus.ROUTES,
    *judge.ROUTES,
    *admin.ROUTES,
    *ui.ROUTES,
)


def create_app(gateway: Gateway) -> FastAPI:
    """The gateway's ASGI app; `gateway` must have loaded its models."""
    app = GatewayApp(
        title="mlgate gateway",
        version=__version__,
        summary=f"Serves model {gateway.name!r}: champion and challenger, one protocol or another.",
        lifespan=_lifespan,
        redirect_slashes=False,  # Starlette's redirect names the Host header's host: ours
    )
    app.router.default = _slash_redirect(app.router)
    app.state.gateway = gateway
    app.state.project = gateway.project  # the dashboard's reads (ui.pages) find it here
    app.state.tokens = gateway.tokens
    app.state.controller = Controller(gateway.project)
    fast = FastPath(gateway)
    for route in ROUTES:
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=[route.method],
            name=route.name,
            tags=[route.tag],
            openapi_extra=route.body,
        )
        if route.answer is not None:
            # The same handler, reached without FastAPI's per-request work; under the
            # route's own name, which labels its errors in the metrics.
            fast.add(
                route.path,
                FastRoute(
                    route.name, route.answer, route.check, route.csv, route.binary, route.errors
                ),
            )
    app.fast_path = fast
    app.state.error_forms = {route.name: route.errors for route in ROUTES if route.errors}
    app.add_exception_handler(MlgateError, _failed)
    app.add_exception_handler(Exception, _failed)
    return app


def _slash_redirect(router: Router) -> ASGIApp:
    """The router's answer to a path no route takes: a redirect to the same path with (or
    without) its trailing slash when a route takes that, else 404.

    The Location is a path from the configured base (the ASGI root path), never a URL
    built from the Host header, which the client chooses: a redirect could send it (or
    whoever follows its link) to any host.
    """

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        if scope["type"] == "http" and path != "/":
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            if any(
                route.matches({**scope, "path": other})[0] is not Match.NONE
                for route in router.routes
            ):
                raw = scope.get("raw_path") or path.encode()
                raw = raw.rstrip(b"/") if raw.endswith(b"/") else raw + b"/"
                # uvicorn's raw path holds the root path; one leading slash: "//host" is a host
                location = "/" + raw.decode("latin-1").lstrip("/")
                if scope.get("query_string"):
                    location += "?" + scope["query_string"].decode("latin-1")
                await RedirectResponse(location, status_code=307)(scope, receive, send)
                return
        await router.not_found(scope, receive, send)

    return default


async def _failed(request: Request, error: Exception) -> Response:
    name = route_name(request)
    form = request.app.state.error_forms.get(name)
    return failure(gateway_of(request), error, name, request.url.path, form)[0]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The log writers, the routing watcher, the metric flushes and the rollout controller
    run while the app serves; at shutdown every buffered log record is written."""
    gateway: Gateway = app.state.gateway
    controller: Controller = app.state.controller
    gateway.start()
    watcher = asyncio.create_task(gateway.watch())
    counting = asyncio.create_task(_flush_metrics(gateway))
    stop = threading.Event()
    ticking = threading.Thread(
        target=controller.run, args=(stop,), name="mlgate-rollout", daemon=True
    )
    ticking.start()
    try:
        yield
    finally:
        stop.set()
        for task in (watcher, counting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        gateway.metrics.flush()
        await asyncio.to_thread(ticking.join, 10)
        await asyncio.to_thread(controller.close)
        await asyncio.to_thread(gateway.close)
        await asyncio.to_thread(gateway.project.close)


async def _flush_metrics(gateway: Gateway) -> None:
    while True:  # answers counted in bulk (see metrics.py), a few times a second
        await asyncio.sleep(0.25)
        gateway.metrics.flush()
