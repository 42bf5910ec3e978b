"""The dashboard's app for a project with no gateway running (`mlgate ui`; run by
`mlgate.serving.server.run_ui`).

The same page and the same reads as the gateway's /ui, served from the
project's registry, state store and prediction log, with nothing loaded to
serve: it is read-only (there is no admin API to act through; `mlgate serve`
has one).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from mlgate._version import __version__
from mlgate.errors import MlgateError
from mlgate.project import Project
from mlgate.serving.responses import error_body, json_response
from mlgate.serving.tokens import TokenGuard
from mlgate.serving.ui.pages import ROUTES

__all__ = ["create_ui_app"]


def create_ui_app(project: Project) -> FastAPI:
    """The dashboard's app for `project`, with no gateway: its page and reads only."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            project.close()

    app = FastAPI(
        title="mlgate dashboard",
        version=__version__,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.project = project
    app.state.tokens = TokenGuard()
    for route in ROUTES:
        app.add_api_route(route.path, route.endpoint, methods=[route.method], name=route.name)
    app.add_exception_handler(MlgateError, _refused)
    return app


async def _refused(request: Request, error: Exception) -> Response:
    """A refusal as the gateway answers it: its status, and its message as JSON."""
    if not isinstance(error, MlgateError):  # registered for these only
        raise error
    wait = getattr(error, "retry_after", None)
    headers = None if wait is None else {"retry-after": str(wait)}
    return json_response(error_body(error), status=error.http_status, headers=headers)
