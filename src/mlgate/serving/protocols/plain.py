"""Plain JSON: POST /predict with {"instances": [...]}, rows as lists or as records."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate.errors import InputError
from mlgate.serving import schemas
from mlgate.serving.batch import from_rows
from mlgate.serving.body import off_loop
from mlgate.serving.gateway import Gateway
from mlgate.serving.request_ids import Caller
from mlgate.serving.responses import prediction_response
from mlgate.serving.routes import Route, gateway_of, prediction_request

__all__ = ["ROUTES", "answer"]


async def predict(request: Request) -> Response:
    gateway = gateway_of(request)
    return await answer(gateway, *await prediction_request(request, gateway))


async def answer(gateway: Gateway, body: Any, caller: Caller) -> Response:
    """The predictions (and a classifier's probabilities) for a parsed /predict body."""
    if not isinstance(body, dict) or "instances" not in body:
        raise InputError(
            'expected {"instances": [[...], ...]} or {"instances": [{...}, ...]}',
            status=400,
            code="bad_body",
        )
    batch = await off_loop(
        caller.size,
        from_rows,
        gateway.routing.champion,
        body["instances"],
        limit=gateway.settings.max_batch_rows,
    )
    served = await gateway.serve(batch, route="predict", caller=caller)
    payload: dict[str, Any] = {
        "predictions": served.prediction.labels,
        "model": gateway.name,
        "version": served.model.version,
        "request_id": served.request_id,
    }
    if served.prediction.probabilities is not None:
        payload["probabilities"] = served.prediction.probabilities
        payload["classes"] = served.model.classes
    return prediction_response(payload, served, role=gateway.settings.role_header)


ROUTES = (
    Route(
        "POST",
        "/predict",
        predict,
        "predict",
        "simple",
        body=schemas.body(schemas.PREDICT),
        answer=answer,
    ),
)
