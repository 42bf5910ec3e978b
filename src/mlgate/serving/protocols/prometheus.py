"""Prometheus' exposition format: GET /metrics, scraped by Prometheus."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mlgate.serving.metrics import CONTENT_TYPE_LATEST
from mlgate.serving.routes import Route, gateway_of

__all__ = ["ROUTES"]


async def metrics(request: Request) -> Response:
    return Response(gateway_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


ROUTES = (Route("GET", "/metrics", metrics, "metrics", "operations"),)
