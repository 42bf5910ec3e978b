"""The ASGI gateway: an app factory, the protocols, and one error-to-response mapping.

Prediction routes read and check their bodies by hand (orjson, no per-request
pydantic models) because that is the hot path; their OpenAPI request bodies
are declared alongside, so the document still covers every route.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import re
import threading
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.background import BackgroundTask

from mlgate._version import __version__
from mlgate.config.rollout import STRATEGIES
from mlgate.errors import MlgateError
from mlgate.road import acts, rollouts
from mlgate.rollout.controller import Controller
from mlgate.serving import schemas
from mlgate.serving.fastpath import FastPath, FastRoute, GatewayApp
from mlgate.serving.gateway import Gateway, Served, VersionFailed
from mlgate.serving.inputs import (
    Batch,
    CsvText,
    InputError,
    from_columns,
    from_csv,
    from_plain_rows,
    from_records,
    from_rows,
    is_csv,
    parse_v2,
    show_value,
)
from mlgate.serving.metrics import CONTENT_TYPE_LATEST
from mlgate.state.rollout import get_rollout, set_rollout

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_JSON = "application/json"


def _dumps(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:  # text orjson will not write (a lone surrogate echoed in a message)
        return json.dumps(payload, default=_plain).encode()


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_dumps(payload), status_code=status, media_type=_JSON, headers=headers)


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


async def _read_json(request: Request, limit: int, *, empty: Any = None, csv: bool = False) -> Any:
    """The request's JSON body, read up to `limit` bytes; `empty` (if given) for no body.

    With `csv`, a body sent as text/csv comes back as `CsvText`, unparsed.
    """
    return await _json_body(
        request.headers.get("content-length"),
        request.stream(),
        limit,
        empty=empty,
        csv=csv and is_csv(request.headers.get("content-type")),
    )


async def _json_body(
    declared: str | None,
    chunks: AsyncIterator[bytes],
    limit: int,
    *,
    empty: Any = None,
    csv: bool = False,
) -> Any:
    """A JSON body from its chunks and declared length (FastAPI's routes and the fast path);
    with `csv`, the body's bytes as `CsvText`."""
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InputError(
                f"the Content-Length header is not a number: {declared[:40]!r}",
                status=400,
                code="bad_header",
            ) from None
        if size > limit:
            raise InputError(
                f"the body is {size} bytes; at most {limit} are accepted "
                "(MLGATE_MAX_BODY_BYTES): send fewer rows per request",
                status=413,
                code="too_large",
            )
    parts = []
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise InputError(
                f"the body is over {limit} bytes, the most accepted (MLGATE_MAX_BODY_BYTES): "
                "send fewer rows per request",
                status=413,
                code="too_large",
            )
        parts.append(chunk)
    raw = parts[0] if len(parts) == 1 else b"".join(parts)
    if csv:
        return CsvText(raw)
    if not raw.strip():
        if empty is not None:
            return empty
        raise InputError("the request has no body; send JSON", status=400, code="bad_body")
    return _loads(raw)


#: What Python's json.dumps writes for float("nan") and float("inf"), and JSON does not have.
_NOT_JSON = re.compile(rb"[\[:,]\s*-?(NaN|Infinity)\s*[\],}]")


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if "infinity" not in str(e):
            hint = (
                "; NaN and Infinity are not JSON: send null for a missing value"
                if _NOT_JSON.search(raw)
                else ""
            )
            raise InputError(
                f"the body is not valid JSON: {e}{hint}", status=400, code="bad_json"
            ) from e
        first = e
    # A number too large for a double (1e999): read it as infinity, so that the input
    # checks can say which row and feature hold it. Only refused bodies come here.
    try:
        parsed = json.loads(raw, parse_constant=_no_constant, parse_int=_integer)
        orjson.dumps(parsed)  # refuses what orjson.loads would have: lone surrogates
    except (ValueError, TypeError, RecursionError):
        raise InputError(
            f"the body is not valid JSON: {first}", status=400, code="bad_json"
        ) from first
    return parsed


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")


def _integer(text: str) -> int | float:
    # As orjson does: integers past 64 bits become floats (and far past, infinity).
    return int(text) if len(text) <= 19 else float(text)


def _route(request: Request) -> str:
    """The matched route's name, a bounded metric label (the raw path is not)."""
    return str(getattr(request.scope.get("route"), "name", None) or "unmatched")


def _caller(request: Request) -> tuple[str | None, str | None]:
    """The request's routing key and x-request-id header, as the fast path reads them."""
    return request.headers.get("x-mlgate-key"), request.headers.get("x-request-id")


def _request_id(given: str | None) -> str | None:
    """A client's x-request-id, when it is fit to log and echo back (printable ASCII: HTTP
    headers carry bytes, and others would come back as different text)."""
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return None


class _Answer(Response):
    """A prediction's JSON response, its header list made in one go.

    Starlette's generic header handling (a dict, lower-cased, encoded, searched for
    the two it adds) costs more than the rest of writing the response; these headers
    are known. The same bytes go out as `Response(content, headers=...)` would send.
    """

    media_type = _JSON

    def __init__(self, content: bytes, served: Served) -> None:
        self.status_code = 200
        self.body = content
        # Starlette awaits `background()` after the body: the off-path copy, if any.
        self.background = cast("BackgroundTask | None", served.shadow)
        self.raw_headers = [
            (b"x-mlgate-version", served.model.version.encode("latin-1")),
            (b"x-mlgate-role", served.role.encode("latin-1")),
            (b"x-request-id", served.request_id.encode("latin-1")),
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]


def _respond(payload: dict[str, Any], served: Served) -> Response:
    return _Answer(_dumps(payload), served)


def create_app(gateway: Gateway) -> FastAPI:
    """The gateway's ASGI app; `gateway` must have loaded its models."""
    settings = gateway.settings
    limit, rows = settings.max_body_bytes, settings.max_batch_rows
    name = gateway.name

    controller = Controller(gateway.project)

    async def _flush_metrics() -> None:
        while True:  # answers counted in bulk (see metrics.py), a few times a second
            await asyncio.sleep(0.25)
            gateway.metrics.flush()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        gateway.start()
        watcher = asyncio.create_task(gateway.watch())
        counting = asyncio.create_task(_flush_metrics())
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

    app = GatewayApp(
        title="mlgate gateway",
        version=__version__,
        summary=f"Serves model {name!r}: champion and challenger, one protocol or another.",
        lifespan=lifespan,
    )

    def _failed(error: Exception, route: str, path: str) -> tuple[Response, bool]:
        """The one error-to-response mapping, and whether the error is a crash to re-raise."""
        if isinstance(error, InputError):
            gateway.metrics.errors.labels(name, route, error.code).inc()
            return _json(error.body(), status=error.status), False
        if isinstance(error, MlgateError):
            # Registry and rollout refusals: the request was fine, the state forbids it.
            code = type(error).__name__
            gateway.metrics.errors.labels(name, route, code).inc()
            problem = getattr(error, "problem", None) or str(error)
            detail: dict[str, Any] = {"code": code}
            if getattr(error, "fix", None):
                detail["fix"] = error.fix
            return _json({"error": problem, "detail": detail}, error.http_status), False
        log.exception("unexpected error on %s", path)
        gateway.metrics.errors.labels(name, route, "internal").inc()
        return _json({"error": "internal error; see the gateway's log"}, status=500), True

    @app.exception_handler(InputError)
    async def _refused(request: Request, error: InputError) -> Response:
        return _failed(error, _route(request), request.url.path)[0]

    @app.exception_handler(MlgateError)
    async def _mlgate(request: Request, error: MlgateError) -> Response:
        return _failed(error, _route(request), request.url.path)[0]

    @app.exception_handler(Exception)
    async def _crashed(request: Request, error: Exception) -> Response:
        return _failed(error, _route(request), request.url.path)[0]

    async def _read(declared: str | None, kind: str | None, chunks: AsyncIterator[bytes]) -> Any:
        return await _json_body(declared, chunks, limit, csv=is_csv(kind))

    fast = FastPath(_read, _failed)

    def _model(model_name: str) -> None:
        if model_name != name:
            shown = model_name if len(model_name) <= 100 else model_name[:97] + "..."
            raise InputError(
                f"unknown model {shown!r}; this gateway serves {name!r}",
                status=404,
                code="unknown_model",
            )

    async def _serve(batch: Batch, route: str, key: str | None, given: str | None) -> Served:
        return await gateway.serve(batch, route=route, key=key, request_id=_request_id(given))

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

    def _metadata(champion: Any) -> dict[str, Any]:
        inputs = [
            {
                "name": feature,
                "datatype": _input_type(champion, feature),
                "shape": [-1],
            }
            for feature in champion.features
        ]
        outputs = [{"name": "label", "datatype": _label_type(champion), "shape": [-1]}]
        if champion.card.task == "classification":
            classes = len(champion.classes or [])
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, classes]})
        return {
            "name": name,
            "platform": "mlgate",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"task": champion.card.task, "classes": champion.classes},
        }

    @app.get("/v2/models/{model_name}", tags=["v2"])
    async def model_metadata(model_name: str) -> Response:
        _model(model_name)
        routing = gateway.routing
        champion = routing.champion
        versions = [champion.version] + ([routing.challenger.version] if routing.challenger else [])
        return _json(
            _metadata(champion) | {"versions": versions},
            headers={"x-mlgate-version": champion.version},
        )

    @app.get("/v2/models/{model_name}/ready", tags=["v2"])
    async def model_ready(model_name: str) -> Response:
        _model(model_name)
        return _json({"name": name, "ready": True})

    @app.post(
        "/v2/models/{model_name}/infer",
        tags=["v2"],
        name="v2",
        openapi_extra=schemas.body(schemas.V2_INFER),
    )
    async def infer(model_name: str, request: Request) -> Response:
        _model(model_name)
        body = await _read_json(request, limit)
        return await _infer(body, *_caller(request))

    def _version(model_name: str, version: str) -> tuple[Any, str]:
        _model(model_name)
        found = gateway.loaded(version)
        if found is None:
            routing = gateway.routing
            served = [routing.champion.version] + (
                [routing.challenger.version] if routing.challenger else []
            )
            shown = version if len(version) <= 40 else version[:37] + "..."
            raise InputError(
                f"version {shown!r} of {name!r} is not served here; served: "
                f"{', '.join(served)} (or leave the version out to be routed)",
                status=404,
                code="unknown_version",
            )
        return found

    @app.get("/v2/models/{model_name}/versions/{version}", tags=["v2"])
    async def version_metadata(model_name: str, version: str) -> Response:
        model, role = _version(model_name, version)
        return _json(
            _metadata(model) | {"versions": [model.version]},
            headers={"x-mlgate-version": model.version, "x-mlgate-role": role},
        )

    @app.get("/v2/models/{model_name}/versions/{version}/ready", tags=["v2"])
    async def version_ready(model_name: str, version: str) -> Response:
        model, _ = _version(model_name, version)
        return _json({"name": name, "version": model.version, "ready": True})

    @app.post(
        "/v2/models/{model_name}/versions/{version}/infer",
        tags=["v2"],
        name="v2_version",
        openapi_extra=schemas.body(schemas.V2_INFER),
    )
    async def infer_version(model_name: str, version: str, request: Request) -> Response:
        """Infer with exactly this version (the champion or the challenger): no split."""
        model, role = _version(model_name, version)
        body = await _read_json(request, limit)
        return await _infer(body, *_caller(request), pinned=(model, role))

    async def _infer(
        body: Any, key: str | None, given: str | None, pinned: tuple[Any, str] | None = None
    ) -> Response:
        champion = gateway.routing.champion if pinned is None else pinned[0]
        batch = parse_v2(champion, body, limit=rows)
        given_id = _v2_id(body)
        wanted = _v2_outputs(champion, body)
        if pinned is None:
            served = await _serve(batch, "v2", key, given)
        else:
            try:
                served = await gateway.serve_version(
                    batch, *pinned, route="v2", key=key, request_id=_request_id(given)
                )
            except VersionFailed as e:
                raise InputError(
                    f"{e}; leave the version out of the path to be answered by the champion "
                    "when the challenger fails",
                    status=503,
                    code="version_failed",
                ) from None
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
        if wanted:
            outputs = [o for o in outputs if o["name"] in wanted]
        payload = {
            "model_name": name,
            "model_version": model.version,
            "id": served.request_id if given_id is None else given_id,
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

    @app.post(
        "/invocations", tags=["mlflow"], openapi_extra=schemas.body(schemas.INVOCATIONS, csv=True)
    )
    async def invocations(request: Request) -> Response:
        body = await _read_json(request, limit, csv=True)
        return await _invocations(body, *_caller(request))

    async def _invocations(body: Any, key: str | None, given: str | None) -> Response:
        batch = _mlflow_batch(gateway, body, rows)
        served = await _serve(batch, "invocations", key, given)
        payload = {
            "predictions": served.prediction.labels,
            "model": name,
            "version": served.model.version,
            "request_id": served.request_id,
        }
        return _respond(payload, served)

    # Plain JSON ---------------------------------------------------------------

    @app.post("/predict", tags=["simple"], openapi_extra=schemas.body(schemas.PREDICT))
    async def predict(request: Request) -> Response:
        body = await _read_json(request, limit)
        return await _predict(body, *_caller(request))

    async def _predict(body: Any, key: str | None, given: str | None) -> Response:
        if not isinstance(body, dict) or "instances" not in body:
            raise InputError(
                'expected {"instances": [[...], ...]} or {"instances": [{...}, ...]}',
                status=400,
                code="bad_body",
            )
        batch = from_rows(gateway.routing.champion, body["instances"], limit=rows)
        served = await _serve(batch, "predict", key, given)
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

    # The same handlers, reached without FastAPI's per-request work (see `fastpath`); the
    # names are the routes' own, which label their errors in the metrics.
    fast.add("/v2/models/{model_name}/infer", FastRoute("v2", _infer, _model))
    fast.add("/invocations", FastRoute("invocations", _invocations))
    fast.add("/predict", FastRoute("predict", _predict))
    app.fast_path = fast

    @app.post("/feedback", tags=["simple"], openapi_extra=schemas.body(schemas.FEEDBACK))
    async def feedback(request: Request) -> Response:
        body = await _read_json(request, limit)
        items = _feedback_items(body, rows, _classes(gateway))
        accepted = gateway.record_feedback(items)
        gateway.metrics.feedback.labels(name).inc(accepted)
        return _json({"accepted": accepted})

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
        expected = token.get_secret_value().strip().encode()
        presented = value.strip().encode()
        if (
            scheme.lower() != "bearer"
            or not expected
            or not presented
            or not hmac.compare_digest(presented, expected)
        ):
            raise InputError(
                "admin endpoints need Authorization: Bearer <MLGATE_ADMIN_TOKEN>",
                status=401,
                code="unauthorized",
            )
        return "admin API"

    @app.get("/admin/rollout", tags=["admin"])
    async def rollout_state(request: Request) -> Response:
        _admin(request)
        status = await asyncio.to_thread(rollouts.rollout_status, gateway.project)
        return _json({"serving": gateway.describe(), "rollout": status})

    @app.post("/admin/rollout/start", tags=["admin"], openapi_extra=schemas.body(schemas.START))
    async def start_rollout(request: Request) -> Response:
        actor = _admin(request)
        body = await _read_json(request, limit, empty={})
        if not isinstance(body, dict):
            raise InputError(
                'expected {"strategy": ..., "steps": [...]}', status=400, code="bad_body"
            )
        _known_keys(body, ("strategy", "steps"))
        strategy, steps = body.get("strategy"), body.get("steps")
        if strategy is not None and not isinstance(strategy, str):
            raise InputError("strategy must be a string", code="bad_strategy")
        if steps is not None and (
            not isinstance(steps, list)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in steps)
        ):
            raise InputError("steps must be a list of percentages", code="bad_steps")
        try:
            state = await asyncio.to_thread(
                rollouts.start_rollout,
                gateway.project,
                strategy=strategy,
                steps=steps,
                actor=actor,
            )
        except ValidationError as e:  # the plan the body makes of the config's
            raise _invalid_plan(e) from e
        await asyncio.to_thread(gateway.refresh)
        return _json({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})

    @app.post("/admin/rollout/promote", tags=["admin"])
    async def finish_rollout(request: Request) -> Response:
        actor = _admin(request)
        act = await asyncio.to_thread(
            acts.promote, gateway.project, reason="promoted by hand", actor=actor
        )
        await asyncio.to_thread(gateway.refresh)
        return _json(
            {"rollout": act.ended.model_dump(mode="json") if act.ended else None}
            | {"serving": gateway.describe()}
        )

    @app.post("/admin/rollout/abort", tags=["admin"])
    async def abort_rollout(request: Request) -> Response:
        actor = _admin(request)
        act = await asyncio.to_thread(
            acts.abort, gateway.project, reason="aborted by hand", actor=actor
        )
        await asyncio.to_thread(gateway.refresh)
        return _json(
            {"rollout": act.ended.model_dump(mode="json") if act.ended else None}
            | {"serving": gateway.describe()}
        )

    @app.post("/admin/rollout", tags=["admin"], openapi_extra=schemas.body(schemas.ROLLOUT))
    async def set_split(request: Request) -> Response:
        actor = _admin(request)
        body = await _read_json(request, limit)
        if not isinstance(body, dict) or not isinstance(body.get("strategy"), str):
            raise InputError(
                'expected {"strategy": "...", "weight": 0-100}', status=400, code="bad_body"
            )
        _known_keys(body, ("strategy", "weight", "note"))
        strategy = body["strategy"]
        if strategy not in STRATEGIES:
            raise InputError(
                f"strategy must be one of {', '.join(STRATEGIES)}; got {show_value(strategy)}",
                code="bad_strategy",
            )
        if strategy != "none" and gateway.routing.challenger is None:
            raise InputError(
                f"there is no challenger to split traffic with; {name!r} serves its champion "
                "only. Register one (mlgate run), or make a version challenger again "
                "(mlgate models challenger)",
                status=409,
                code="no_challenger",
            )
        weight = body.get("weight", 0.0)
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not 0.0 <= weight <= 100.0
        ):
            raise InputError(
                f"weight must be a number from 0 to 100 (percent to the challenger); "
                f"got {show_value(weight)}",
                code="bad_weight",
            )
        note = body.get("note", "")
        state = await asyncio.to_thread(
            set_rollout,
            gateway.store,
            name,
            strategy=strategy,
            weight=float(weight),
            actor=actor,
            note=str(note)[:500],
        )
        await asyncio.to_thread(gateway.refresh)
        return _json({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})

    @app.post("/admin/promote", tags=["admin"])
    async def promote(request: Request) -> Response:
        actor = _admin(request)
        reason = "promoted through the admin API"
        running = await asyncio.to_thread(get_rollout, gateway.store, name)
        version = None
        if running.status != "running":
            challenger = gateway.routing.challenger
            if challenger is None:
                raise InputError(
                    "there is no challenger to promote", status=409, code="no_challenger"
                )
            version = challenger.version
        await asyncio.to_thread(acts.promote, gateway.project, version, reason=reason, actor=actor)
        await asyncio.to_thread(gateway.refresh)
        return _json(gateway.describe())

    @app.post("/admin/rollback", tags=["admin"])
    async def rollback(request: Request) -> Response:
        actor = _admin(request)
        # During a rollout, rolling back means the challenger out, as `rollout abort`.
        await asyncio.to_thread(
            acts.rollback, gateway.project, reason="rolled back through the admin API", actor=actor
        )
        await asyncio.to_thread(gateway.refresh)
        return _json(gateway.describe())

    return app


def _known_keys(body: dict[str, Any], known: tuple[str, ...]) -> None:
    """Refuse a body with keys the route does not take (a typo must not pass unnoticed)."""
    unknown = [str(k) for k in body if k not in known]
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise InputError(
            f"unknown key(s) {shown}; this route takes {', '.join(known)}",
            code="unknown_key",
        )


def _invalid_plan(error: ValidationError) -> InputError:
    problems = "; ".join(
        f"{'.'.join(map(str, item['loc'])) or 'plan'}: {item['msg']}" for item in error.errors()
    )
    return InputError(f"the rollout plan is not valid: {problems}", code="bad_plan")


def _v2_id(body: dict[str, Any]) -> str | None:
    given = body.get("id")
    if given is not None and not isinstance(given, str):
        raise InputError(
            f"id must be a string, got {show_value(given)}", status=400, code="bad_body"
        )
    return given


def _v2_outputs(model: Any, body: dict[str, Any]) -> set[str]:
    """The output names a V2 request asks for; empty for all of them."""
    requested = body.get("outputs")
    if requested is None:
        return set()
    names = ["label"] + (["probabilities"] if model.card.task == "classification" else [])
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise InputError(
            'outputs must be a list of {"name": ...} objects; this model gives: '
            + ", ".join(names),
            status=400,
            code="bad_body",
        )
    wanted = {o["name"] for o in requested}
    unknown = sorted(wanted - set(names))
    if unknown:
        raise InputError(
            f"unknown output(s): {', '.join(map(repr, unknown))}; this model gives: "
            + ", ".join(names),
            status=400,
            code="unknown_output",
        )
    return wanted


def _input_type(model: Any, feature: str) -> str:
    """A feature's V2 datatype, as its schema types it (numbers as FP64 when it does not)."""
    if feature not in model.numeric:
        return "BYTES"
    rules = model.schema.columns.get(feature) if model.schema else None
    return "INT64" if rules is not None and rules.dtype == "int" else "FP64"


def _label_type(model: Any) -> str:
    if model.card.task == "regression":
        return "FP64"
    classes = model.classes or []
    if classes and all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    return "BYTES"


def _odd_row(data: list[Any], width: int) -> tuple[int, str] | None:
    """The first row that is not a list of `width` values, and what it is instead."""
    for i, row in enumerate(data):
        if not isinstance(row, list):
            return i, "no list of values"
        if len(row) != width:
            return i, f"{len(row)}"
    return None


_MLFLOW_KEYS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})


def _mlflow_batch(gateway: Gateway, body: Any, rows: int) -> Batch:
    model = gateway.routing.champion
    if isinstance(body, CsvText):
        return from_csv(model, body.raw, limit=rows)
    if not isinstance(body, dict) or len(_MLFLOW_KEYS.intersection(body)) != 1:
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
            odd = None if not isinstance(data, list) else _odd_row(data, len(columns))
            raise InputError(
                f"dataframe_split.data must be a list of rows of {len(columns)} value(s), "
                f"one per column" + ("" if odd is None else f"; row {odd[0]} has {odd[1]}"),
                status=400,
                code="bad_body",
                row=None if odd is None else odd[0],
            )
        if columns == model.features:  # the usual request: quickest when all plain numbers
            found = from_plain_rows(model, data, limit=rows)
            if found is not None:
                return found
        names = list(map(str, columns))
        if len(set(names)) != len(names):
            twice = next(n for i, n in enumerate(names) if n in names[:i])
            raise InputError(
                f"dataframe_split.columns names {twice!r} more than once",
                code="wrong_features",
                feature=twice,
            )
        if data and model.feature_set.issuperset(names) and len(names) == len(model.features):
            # Exactly the model's features: the rows transposed are its columns (any other
            # set of names goes through the records, whose errors name the row).
            columns_of = map(list, zip(*data, strict=True))
            return from_columns(model, dict(zip(names, columns_of, strict=True)), limit=rows)
        return from_records(
            model, [dict(zip(map(str, columns), r, strict=True)) for r in data], limit=rows
        )
    if "dataframe_records" in body:
        return from_records(model, body["dataframe_records"], limit=rows)
    given = body.get("instances", body.get("inputs"))
    if isinstance(given, dict):
        return from_columns(model, given, limit=rows)
    return from_rows(model, given, limit=rows)


def _classes(gateway: Gateway) -> list[str] | None:
    """The classes a label may name (the served versions' own), or None for regression."""
    routing = gateway.routing
    found: dict[str, None] = {}
    for model in (routing.champion, routing.challenger):
        if model is not None and model.card.task == "classification" and model.classes:
            found.update(dict.fromkeys(map(str, model.classes)))
    return list(found) or None


def _feedback_items(
    body: Any, limit: int, classes: list[str] | None = None
) -> list[tuple[str, int, Any]]:
    """The (request id, row, label) of each label in `body`; a classifier's labels must
    be one of its `classes` as predictions show them (a label like 1.0 or "yes" would
    never match a prediction 1, and the accuracy would silently ignore it)."""
    # {"feedback": [...]}, a bare list of labels, or one label object on its own
    entries = (
        body.get("feedback", body if "request_id" in body else None)
        if isinstance(body, dict)
        else body
    )
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise InputError(
            'expected {"feedback": [{"request_id": "...", "label": ...}, ...]}',
            status=400,
            code="bad_body",
        )
    if len(entries) > limit:
        raise InputError(
            f"the request has {len(entries)} labels; at most {limit} are accepted per request "
            "(MLGATE_MAX_BATCH_ROWS): split it into smaller requests",
            status=413,
            code="too_many_rows",
        )
    items = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(
                f'feedback[{i}] must be an object {{"request_id": ..., "label": ...}}',
                row=i,
                code="bad_feedback",
            )
        request_id, label, row = entry.get("request_id"), entry.get("label"), entry.get("row", 0)
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
            raise InputError(
                f"feedback[{i}].request_id must be the request id a prediction answered with "
                f"(x-request-id, 1 to 128 characters); got {show_value(request_id)}",
                row=i,
                code="bad_feedback",
            )
        if (
            isinstance(label, bool)
            or not isinstance(label, str | int | float)
            or (isinstance(label, float) and not math.isfinite(label))
            or (isinstance(label, str) and not 0 < len(label) <= 1000)
        ):
            raise InputError(
                f"feedback[{i}].label must be the true label, a string or a finite number; "
                f"got {show_value(label)}",
                row=i,
                code="bad_feedback",
            )
        if classes is not None and str(label) not in classes:
            shown = ", ".join(classes[:20]) + (", ..." if len(classes) > 20 else "")
            raise InputError(
                f"feedback[{i}].label {show_value(label)} is not a class the model predicts; "
                f"send one of: {shown}",
                row=i,
                code="bad_feedback",
            )
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < limit:
            raise InputError(
                f"feedback[{i}].row must be the row's position in its request, an integer "
                f"from 0 to {limit - 1}; got {show_value(row)}",
                row=i,
                code="bad_feedback",
            )
        items.append((request_id, row, label))
    return items
