"""GET /ui: the dashboard's page, its static files, and the reads it polls.

The page is static files shipped in the package (`static/`, uPlot vendored under
`static/vendor/` with its licence), sent with a content security policy that
lets it load and fetch from its own origin only: no inline script or style, no
other host. Its reads (`/ui/api/...`) carry figures only; they are open like
/metrics unless MLGATE_READ_TOKEN is set, then they need it as a bearer token.
Its actions go to the admin API, with the admin token the user types in.

The routes find the project (and the gateway, when there is one) on the app's
state: the gateway's app serves them, and so does `mlgate ui` (`alone`) for a
project with no gateway running, read-only.
"""

from __future__ import annotations

import asyncio
import functools
from importlib import resources
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from mlgate.errors import InputError
from mlgate.serving.responses import json_response
from mlgate.serving.routes import Route, client_address
from mlgate.serving.ui.figures import (
    model_figures,
    rollout_figures,
    traffic_figures,
    version_figures,
)

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["CSP", "ROUTES"]

#: The page's own origin, and nothing else: no inline code, no other host, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
#: The files the page is made of: the name it asks for, the file in static/, its type.
_ASSETS = {
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
    "icon.svg": ("icon.svg", "image/svg+xml"),
    "uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "uPlot.min.css": ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
}


@functools.cache
def _static(path: str) -> bytes:
    """A static file's bytes, read once."""
    return (resources.files("mlgate.serving.ui") / "static" / path).read_bytes()


async def page(request: Request) -> Response:
    return Response(_static("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    found = _ASSETS.get(name)
    if found is None:
        raise InputError(
            f"no dashboard file {name[:80]!r}; the page is made of {', '.join(_ASSETS)}",
            status=404,
            code="not_found",
        )
    path, media_type = found
    return Response(_static(path), media_type=media_type, headers=_HEADERS)


def _readable(request: Request) -> Project:
    """The project whose figures a request may read: refused (401, or 429) without the
    read token (or the admin token, which may do more) when one is set. The app keeps
    the project and the token brake on its state (the gateway's own, or `mlgate ui`'s)."""
    state = request.app.state
    project: Project = state.project
    token = project.settings.read_token
    if token is not None:
        state.tokens.check(
            client_address(request),
            request.headers.get("authorization"),
            token,
            "the dashboard's reads need Authorization: Bearer <MLGATE_READ_TOKEN> (or the "
            "admin token)",
            also=project.settings.admin_token,
        )
    return project


def _figures(payload: object) -> Response:
    return json_response(payload, headers={**_HEADERS, "cache-control": "no-store"})


async def rollout(request: Request) -> Response:
    project = _readable(request)
    gateway = getattr(request.app.state, "gateway", None)  # none under `mlgate ui`
    served = gateway.describe() if gateway is not None else None
    return _figures(await asyncio.to_thread(rollout_figures, project, served))


async def models(request: Request) -> Response:
    project = _readable(request)
    return _figures(await asyncio.to_thread(model_figures, project))


async def version(request: Request) -> Response:
    project = _readable(request)
    number = request.path_params["version"]
    return _figures(await asyncio.to_thread(version_figures, project, number))


async def traffic(request: Request) -> Response:
    project = _readable(request)
    return _figures(await asyncio.to_thread(traffic_figures, project))


ROUTES = (
    Route("GET", "/ui", page, "ui_page", "dashboard"),
    Route("GET", "/ui/static/{name}", asset, "ui_asset", "dashboard"),
    Route("GET", "/ui/api/rollout", rollout, "ui_rollout", "dashboard"),
    Route("GET", "/ui/api/models", models, "ui_models", "dashboard"),
    Route("GET", "/ui/api/versions/{version}", version, "ui_version", "dashboard"),
    Route("GET", "/ui/api/traffic", traffic, "ui_traffic", "dashboard"),
)
