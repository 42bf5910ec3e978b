"""The ASGI gateway: an app factory, the protocols, and one error-to-response mapping.

Prediction routes read and check their bodies by hand (orjson, no per-request
pydantic models) because that is the hot path; their OpenAPI request bodies
are declared alongside, so the document still covers every route.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.background import BackgroundTask

from mlgate._version import __version__
from mlgate.errors import MlgateError
from mlgate.rollout.controller import Controller
from mlgate.serving import schemas
from mlgate.serving.gateway import Gateway, Served
from mlgate.serving.inputs import Batch, InputError, from_columns, from_records, from_rows, parse_v2
from mlgate.serving.metrics import CONTENT_TYPE_LATEST
from mlgate.state.rollout import set_rollout

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_JSON = "application/json"


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type=_JSON,
        headers=headers,
    )


async def _read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InputError(
                "Content-Length is not a number", status=400, code="bad_header"
            ) from None
        if size > limit:
            raise InputError(
                f"the body is {size} bytes; at most {limit} are accepted",
                status=413,
                code="too_large",
            )
    chunks = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise InputError(
                f"the body is over {limit} bytes, the most accepted", status=413, code="too_large"
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise InputError("the request has no body; send JSON", status=400, code="bad_body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InputError(f"the body is not valid JSON: {e}", status=400, code="bad_json") from e


def _request_id(request: Request) -> str | None:
    given = request.headers.get("x-request-id")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return None


def _headers(served: Served) -> dict[str, str]:
    return {
        "x-mlgate-version": served.model.version,
        "x-mlgate-role": served.role,
        "x-request-id": served.request_id,
    }


def _respond(payload: dict[str, Any], served: Served) -> Response:
    background = BackgroundTask(served.shadow) if served.shadow else None
    response = _json(payload, headers=_headers(served))
    response.background = background
    return response


def create_app(gateway: Gateway) -> FastAPI:
    """The gateway's ASGI app; `gateway` must have loaded its models."""
    settings = gateway.settings
    limit, rows = settings.max_body_bytes, settings.max_batch_rows
    name = gateway.name

    controller = Controller(gateway.config, gateway.catalog, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        gateway.start()
        watcher = asyncio.create_task(gateway.watch())
        stop = threading.Event()
        ticking = threading.Thread(
            target=controller.run, args=(stop,), name="mlgate-rollout", daemon=True
        )
        ticking.start()
        try:
            yield
        finally:
            stop.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(ticking.join, 10)
            await asyncio.to_thread(controller.close)
            await asyncio.to_thread(gateway.close)

    app = FastAPI(
        title="mlgate gateway",
        version=__version__,
        summary=f"Serves model {name!r}: champion and challenger, one protocol or another.",
        lifespan=lifespan,
    )

    @app.exception_handler(InputError)
    async def _refused(request: Request, error: InputError) -> Response:
        gateway.metrics.errors.labels(name, request.url.path, error.code).inc()
        return _json(error.body(), status=error.status)

    @app.exception_handler(MlgateError)
    async def _mlgate(request: Request, error: MlgateError) -> Response:
        return _json({"error": str(error), "detail": {"code": type(error).__name__}}, 409)

    @app.exception_handler(Exception)
    async def _crashed(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        gateway.metrics.errors.labels(name, request.url.path, "internal").inc()
        return _json({"error": "internal error; see the gateway's log"}, status=500)

    def _model(model_name: str) -> None:
        if model_name != name:
            raise InputError(
                f"unknown model {model_name!r}; this gateway serves {name!r}",
                status=404,
                code="unknown_model",
            )

    async def _serve(request: Request, batch: Batch, route: str) -> Served:
        return await gateway.serve(
            batch,
            route=route,
            key=request.headers.get("x-mlgate-key"),
            request_id=_request_id(request),
        )

    # Open Inference Protocol (KServe V2) ------------------------------------

    @app.get("/v2/health/live", tags=["v2"])
    async def live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["v2"])
    async def ready() -> Response:
        return _json({"ready": True})

    @app.get("/v2", tags=["v2"])
    async def server_metadata() -> Response:
        return _json({"name": "mlgate", "version": __version__, "extensions": []})

    @app.get("/v2/models/{model_name}", tags=["v2"])
    async def model_metadata(model_name: str) -> Response:
        _model(model_name)
        routing = gateway.routing
        champion = routing.champion
        versions = [champion.version] + ([routing.challenger.version] if routing.challenger else [])
        inputs = [
            {
                "name": feature,
                "datatype": "FP64" if feature in champion.numeric else "BYTES",
                "shape": [-1],
            }
            for feature in champion.features
        ]
        outputs = [{"name": "label", "datatype": _label_type(champion), "shape": [-1]}]
        if champion.card.task == "classification":
            classes = len(champion.classes or [])
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, classes]})
        return _json(
            {
                "name": name,
                "versions": versions,
                "platform": "mlgate",
                "inputs": inputs,
                "outputs": outputs,
                "parameters": {"task": champion.card.task, "classes": champion.classes},
            },
            headers={"x-mlgate-version": champion.version},
        )

    @app.get("/v2/models/{model_name}/ready", tags=["v2"])
    async def model_ready(model_name: str) -> Response:
        _model(model_name)
        return _json({"name": name, "ready": True})

    @app.post(
        "/v2/models/{model_name}/infer", tags=["v2"], openapi_extra=schemas.body(schemas.V2_INFER)
    )
    async def infer(model_name: str, request: Request) -> Response:
        _model(model_name)
        body = await _read_json(request, limit)
        batch = parse_v2(gateway.routing.champion, body, limit=rows)
        served = await _serve(request, batch, "v2")
        prediction, model = served.prediction, served.model
        outputs: list[dict[str, Any]] = [
            {
                "name": "label",
                "shape": [batch.rows],
                "datatype": _label_type(model),
                "data": prediction.labels,
            }
        ]
        if prediction.probabilities is not None:
            probabilities = prediction.probabilities
            outputs.append(
                {
                    "name": "probabilities",
                    "shape": list(probabilities.shape),
                    "datatype": "FP64",
                    "data": probabilities.reshape(-1),
                }
            )
        requested = body.get("outputs")
        if isinstance(requested, list) and requested:
            wanted = {o.get("name") for o in requested if isinstance(o, dict)}
            outputs = [o for o in outputs if o["name"] in wanted] or outputs
        payload = {
            "model_name": name,
            "model_version": model.version,
            "id": str(body.get("id", served.request_id)),
            "parameters": {"request_id": served.request_id, "role": served.role},
            "outputs": outputs,
        }
        return _respond(payload, served)

    # MLflow's scoring protocol ----------------------------------------------

    @app.get("/ping", tags=["mlflow"])
    async def ping() -> Response:
        return _json({"status": "ok"})

    @app.get("/health", tags=["mlflow"])
    async def health() -> Response:
        return _json({"status": "ok", **gateway.describe()})

    @app.get("/version", tags=["mlflow"])
    async def version() -> Response:
        return _json(
            {"mlgate": __version__, "model": name, "version": gateway.routing.champion.version}
        )

    @app.post("/invocations", tags=["mlflow"], openapi_extra=schemas.body(schemas.INVOCATIONS))
    async def invocations(request: Request) -> Response:
        body = await _read_json(request, limit)
        batch = _mlflow_batch(gateway, body, rows)
        served = await _serve(request, batch, "invocations")
        return _respond({"predictions": served.prediction.labels}, served)

    # Plain JSON ---------------------------------------------------------------

    @app.post("/predict", tags=["simple"], openapi_extra=schemas.body(schemas.PREDICT))
    async def predict(request: Request) -> Response:
        body = await _read_json(request, limit)
        if not isinstance(body, dict) or "instances" not in body:
            raise InputError(
                'expected {"instances": [[...], ...]} or {"instances": [{...}, ...]}',
                status=400,
                code="bad_body",
            )
        batch = from_rows(gateway.routing.champion, body["instances"], limit=rows)
        served = await _serve(request, batch, "predict")
        payload: dict[str, Any] = {
            "predictions": served.prediction.labels,
            "model": name,
            "version": served.model.version,
            "request_id": served.request_id,
        }
        if served.prediction.probabilities is not None:
            payload["probabilities"] = served.prediction.probabilities
            payload["classes"] = served.model.classes
        return _respond(payload, served)

    @app.post("/feedback", tags=["simple"], openapi_extra=schemas.body(schemas.FEEDBACK))
    async def feedback(request: Request) -> Response:
        body = await _read_json(request, limit)
        items = _feedback_items(body, rows)
        return _json({"accepted": gateway.record_feedback(items)})

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # Admin ------------------------------------------------------------------

    def _admin(request: Request) -> str:
        token = settings.admin_token
        if token is None:
            raise InputError(
                "the admin API is off: set MLGATE_ADMIN_TOKEN to turn it on",
                status=404,
                code="admin_off",
            )
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
            raise InputError(
                "admin endpoints need Authorization: Bearer <MLGATE_ADMIN_TOKEN>",
                status=401,
                code="unauthorized",
            )
        return "admin API"

    @app.get("/admin/rollout", tags=["admin"])
    async def rollout_state(request: Request) -> Response:
        _admin(request)
        status = await asyncio.to_thread(controller.status)
        return _json({"serving": gateway.describe(), "rollout": status})

    @app.post("/admin/rollout/start", tags=["admin"], openapi_extra=schemas.body(schemas.START))
    async def start_rollout(request: Request) -> Response:
        actor = _admin(request)
        body = await _read_json(request, limit) if request.headers.get("content-length") else {}
        if not isinstance(body, dict):
            raise InputError(
                'expected {"strategy": ..., "steps": [...]}', status=400, code="bad_body"
            )
        strategy, steps = body.get("strategy"), body.get("steps")
        if strategy is not None and not isinstance(strategy, str):
            raise InputError("strategy must be a string", code="bad_strategy")
        if steps is not None and (
            not isinstance(steps, list)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in steps)
        ):
            raise InputError("steps must be a list of percentages", code="bad_steps")
        state = await asyncio.to_thread(
            controller.start, strategy=strategy, steps=steps, actor=actor
        )
        await asyncio.to_thread(gateway.refresh)
        return _json({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})

    @app.post("/admin/rollout/promote", tags=["admin"])
    async def finish_rollout(request: Request) -> Response:
        actor = _admin(request)
        state = await asyncio.to_thread(controller.promote, actor=actor)
        await asyncio.to_thread(gateway.refresh)
        return _json({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})

    @app.post("/admin/rollout/abort", tags=["admin"])
    async def abort_rollout(request: Request) -> Response:
        actor = _admin(request)
        state = await asyncio.to_thread(controller.abort, actor=actor)
        await asyncio.to_thread(gateway.refresh)
        return _json({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})

    @app.post("/admin/rollout", tags=["admin"], openapi_extra=schemas.body(schemas.ROLLOUT))
    async def set_split(request: Request) -> Response:
        actor = _admin(request)
        body = await _read_json(request, limit)
        if not isinstance(body, dict) or not isinstance(body.get("strategy"), str):
            raise InputError(
                'expected {"strategy": "...", "weight": 0-100}', status=400, code="bad_body"
            )
        weight = body.get("weight", 0.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InputError("weight must be a number from 0 to 100", code="bad_weight")
        note = body.get("note", "")
        state = await asyncio.to_thread(
            set_rollout,
            gateway.catalog.state,
            name,
            strategy=body["strategy"],
            weight=float(weight),
            actor=actor,
            note=str(note)[:500],
        )
        await asyncio.to_thread(gateway.refresh)
        return _json({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})

    @app.post("/admin/promote", tags=["admin"])
    async def promote(request: Request) -> Response:
        _admin(request)
        challenger = gateway.routing.challenger
        if challenger is None:
            raise InputError("there is no challenger to promote", status=409, code="no_challenger")
        await asyncio.to_thread(
            gateway.catalog.promote,
            name,
            challenger.version,
            reason="promoted through the admin API",
        )
        await asyncio.to_thread(_reset, gateway)
        return _json(gateway.describe())

    @app.post("/admin/rollback", tags=["admin"])
    async def rollback(request: Request) -> Response:
        _admin(request)
        await asyncio.to_thread(
            gateway.catalog.rollback, name, reason="rolled back through the admin API"
        )
        await asyncio.to_thread(_reset, gateway)
        return _json(gateway.describe())

    return app


def _reset(gateway: Gateway) -> None:
    set_rollout(gateway.catalog.state, gateway.name, strategy="none", weight=0.0, actor="admin API")
    gateway.refresh()


def _label_type(model: Any) -> str:
    if model.card.task == "regression":
        return "FP64"
    classes = model.classes or []
    if classes and all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    return "BYTES"


def _mlflow_batch(gateway: Gateway, body: Any, rows: int) -> Batch:
    model = gateway.routing.champion
    keys = ("dataframe_split", "dataframe_records", "instances", "inputs")
    if not isinstance(body, dict) or sum(k in body for k in keys) != 1:
        raise InputError(
            "expected exactly one of dataframe_split, dataframe_records, instances or inputs",
            status=400,
            code="bad_body",
        )
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
            raise InputError(
                'dataframe_split needs {"columns": [...], "data": [[...], ...]}',
                status=400,
                code="bad_body",
            )
        columns, data = split["columns"], split.get("data")
        if not isinstance(data, list) or not all(
            isinstance(r, list) and len(r) == len(columns) for r in data
        ):
            raise InputError(
                f"dataframe_split.data must be a list of rows of {len(columns)} value(s)",
                status=400,
                code="bad_body",
            )
        if len(set(map(str, columns))) != len(columns):
            raise InputError("dataframe_split.columns has duplicates", code="wrong_features")
        return from_records(
            model, [dict(zip(map(str, columns), r, strict=True)) for r in data], limit=rows
        )
    if "dataframe_records" in body:
        return from_records(model, body["dataframe_records"], limit=rows)
    given = body.get("instances", body.get("inputs"))
    if isinstance(given, dict):
        return from_columns(model, given, limit=rows)
    return from_rows(model, given, limit=rows)


def _feedback_items(body: Any, limit: int) -> list[tuple[str, int, Any]]:
    entries = body.get("feedback") if isinstance(body, dict) else body
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise InputError(
            'expected {"feedback": [{"request_id": "...", "label": ...}, ...]}',
            status=400,
            code="bad_body",
        )
    if len(entries) > limit:
        raise InputError(f"at most {limit} labels per request", status=413, code="too_many_rows")
    items = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f"feedback[{i}] must be an object", row=i, code="bad_feedback")
        request_id, label, row = entry.get("request_id"), entry.get("label"), entry.get("row", 0)
        if not isinstance(request_id, str) or not request_id or len(request_id) > 128:
            raise InputError(
                f"feedback[{i}].request_id must be a non-empty string", row=i, code="bad_feedback"
            )
        if isinstance(label, bool) or not isinstance(label, str | int | float) or label != label:
            raise InputError(
                f"feedback[{i}].label must be a string or a number", row=i, code="bad_feedback"
            )
        if isinstance(row, bool) or not isinstance(row, int) or row < 0:
            raise InputError(
                f"feedback[{i}].row must be a non-negative integer", row=i, code="bad_feedback"
            )
        items.append((request_id, row, label))
    return items
