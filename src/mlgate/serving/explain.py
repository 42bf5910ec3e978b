"""`POST /v2/models/{name}/explain`: per-row feature attributions of the served version.

The body is an inference request's (the Open Inference Protocol's forms, binary
extension included), read by the same code. The champion answers it, or the version
the path names (`/versions/{version}/explain`). Explanations are not traffic: they
are not logged, counted as answers, nor split between versions. They are bounded in
rows (`EXPLAIN_ROWS`) and time (`EXPLAIN_SECONDS`, computed off the event loop), and
one is computed at a time: a request that finds one running, or that outlasts its
time, is answered 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate.errors import ConfigError, InputError
from mlgate.registry.versions import CHAMPION
from mlgate.serving import schemas
from mlgate.serving.body import off_loop
from mlgate.serving.protocols.v2 import check_model, served_version
from mlgate.serving.responses import json_response
from mlgate.serving.routes import Route, gateway_of, prediction_request
from mlgate.serving.tensors import parse_v2

if TYPE_CHECKING:
    from mlgate.serving.gateway import Gateway
    from mlgate.serving.runtime import ServedModel

__all__ = ["EXPLAIN_ROWS", "EXPLAIN_SECONDS", "ROUTES"]

#: Most rows one explain request may hold.
EXPLAIN_ROWS = 100
#: Longest an explanation may take before the request is answered 503.
EXPLAIN_SECONDS = 10.0
#: One explanation at a time: one that timed out still holds it until its thread ends,
#: so abandoned work cannot pile up behind the gateway's answers.
_RUNNING = threading.Lock()


async def explain(model_name: str, request: Request) -> Response:
    gateway = gateway_of(request)
    check_model(gateway, model_name)
    return await _explain(gateway, request, gateway.routing.champion, CHAMPION)


async def explain_version(model_name: str, version: str, request: Request) -> Response:
    gateway = gateway_of(request)
    model, role = served_version(gateway, model_name, version)
    return await _explain(gateway, request, model, role)


async def _explain(gateway: Gateway, request: Request, model: ServedModel, role: str) -> Response:
    body, caller = await prediction_request(request, gateway, binary=True)
    batch = await off_loop(
        caller.size, parse_v2, model, body, limit=gateway.settings.max_batch_rows
    )
    if batch.rows > EXPLAIN_ROWS:
        raise InputError(
            f"an explain request may hold at most {EXPLAIN_ROWS} rows; this one holds {batch.rows}",
            status=413,
            code="too_many_rows",
            fix="Send the rows in smaller requests.",
        )
    if not _RUNNING.acquire(blocking=False):
        raise InputError(
            "another explanation is being computed", status=503, code="busy", retry_after=1
        )
    try:
        work = asyncio.to_thread(_attributions, model, batch.columns)
        explained, prediction = await asyncio.wait_for(work, EXPLAIN_SECONDS)
    except TimeoutError:
        raise InputError(
            f"the explanation took longer than {EXPLAIN_SECONDS:g} seconds",
            status=503,
            code="explain_timeout",
            retry_after=5,
            fix="Send fewer rows.",
        ) from None
    except ConfigError as e:
        raise InputError(
            f"version {model.version} cannot be explained: {e.problem}",
            status=501,
            code="explain_unavailable",
            fix=e.fix,
        ) from None
    labels, probabilities = prediction.labels, prediction.probabilities
    rows = []
    for i, per_output in enumerate(explained.attributions):
        row: dict[str, Any] = {"prediction": labels[i]}
        if probabilities is not None:
            row["probabilities"] = probabilities[i].tolist()
        row["attributions"] = {
            output: dict(zip(explained.features, values, strict=True))
            for output, values in zip(explained.outputs, per_output, strict=True)
        }
        rows.append(row)
    told = {"role": role} if gateway.settings.role_header else {}
    return json_response(
        {
            "model_name": gateway.name,
            "model_version": model.version,
            **told,
            "method": explained.method,
            "output": explained.output,
            "features": explained.features,
            "base_values": dict(zip(explained.outputs, explained.base_values, strict=True)),
            "rows": rows,
        },
        headers={"x-mlgate-version": model.version},
    )


def _attributions(model: ServedModel, columns: dict[str, Any]) -> tuple[Any, Any]:
    """The explanation and the prediction of a batch, on a worker thread, one at a time
    (the lock is released here, when the work ends, even if the request gave up on it)."""
    import pandas as pd

    try:
        explainer = model.explainer()
        frame = pd.DataFrame({name: columns[name] for name in model.features})
        return explainer.explain(frame), model.predict(columns)
    finally:
        _RUNNING.release()


_EXPLAIN = schemas.body(schemas.V2_INFER)

ROUTES = (
    Route("POST", "/v2/models/{model_name}/explain", explain, "explain", "v2", body=_EXPLAIN),
    Route(
        "POST",
        "/v2/models/{model_name}/versions/{version}/explain",
        explain_version,
        "explain_version",
        "v2",
        body=_EXPLAIN,
    ),
)
