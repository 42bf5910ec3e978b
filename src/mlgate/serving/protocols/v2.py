"""The Open Inference Protocol (KServe V2): health, metadata and inference.

A request may name a version in its path (`/versions/{version}/...`): it is
answered by exactly that version, the champion or the challenger, with no split
and no fallback.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate._version import __version__
from mlgate.errors import InputError, VersionFailed
from mlgate.registry.predictor import PROBABILITIES, answer_name
from mlgate.serving import schemas
from mlgate.serving.batch import Batch
from mlgate.serving.body import off_loop
from mlgate.serving.coercion import show_value
from mlgate.serving.gateway import Gateway, Served
from mlgate.serving.request_ids import Caller
from mlgate.serving.responses import json_response, prediction_response
from mlgate.serving.routes import Route, gateway_of, prediction_request
from mlgate.serving.runtime import ServedModel
from mlgate.serving.tensors import parse_v2

__all__ = ["ROUTES", "answer", "check_model"]


def check_model(gateway: Gateway, model_name: str) -> None:
    """Refuse a model name other than the gateway's own (404)."""
    if model_name != gateway.name:
        shown = model_name if len(model_name) <= 100 else model_name[:97] + "..."
        raise InputError(
            f"unknown model {shown!r}; this gateway serves {gateway.name!r}",
            status=404,
            code="unknown_model",
        )


def _version(gateway: Gateway, model_name: str, version: str) -> tuple[ServedModel, str]:
    """The served version the path names, and its role; 404 for any other."""
    check_model(gateway, model_name)
    found = gateway.loaded(version)
    if found is None:
        routing = gateway.routing
        served = [routing.champion.version] + (
            [routing.challenger.version] if routing.challenger else []
        )
        shown = version if len(version) <= 40 else version[:37] + "..."
        raise InputError(
            f"version {shown!r} of {gateway.name!r} is not served here; served: "
            f"{', '.join(served)} (or leave the version out to be routed)",
            status=404,
            code="unknown_version",
        )
    return found


# Endpoints ------------------------------------------------------------------------


async def live() -> Response:
    return json_response({"live": True})


async def ready() -> Response:
    return json_response({"ready": True})


async def server_metadata() -> Response:
    return json_response({"name": "mlgate", "version": __version__, "extensions": []})


async def model_metadata(model_name: str, request: Request) -> Response:
    gateway = gateway_of(request)
    check_model(gateway, model_name)
    routing = gateway.routing
    champion = routing.champion
    versions = [champion.version] + ([routing.challenger.version] if routing.challenger else [])
    return json_response(
        _metadata(gateway.name, champion) | {"versions": versions},
        headers={"x-mlgate-version": champion.version},
    )


async def model_ready(model_name: str, request: Request) -> Response:
    gateway = gateway_of(request)
    check_model(gateway, model_name)
    return json_response({"name": gateway.name, "ready": True})


async def infer(model_name: str, request: Request) -> Response:
    gateway = gateway_of(request)
    check_model(gateway, model_name)
    return await answer(gateway, *await prediction_request(request, gateway))


async def version_metadata(model_name: str, version: str, request: Request) -> Response:
    gateway = gateway_of(request)
    model, role = _version(gateway, model_name, version)
    return json_response(
        _metadata(gateway.name, model) | {"versions": [model.version]},
        headers={"x-mlgate-version": model.version, "x-mlgate-role": role},
    )


async def version_ready(model_name: str, version: str, request: Request) -> Response:
    gateway = gateway_of(request)
    model, _ = _version(gateway, model_name, version)
    return json_response({"name": gateway.name, "version": model.version, "ready": True})


async def infer_version(model_name: str, version: str, request: Request) -> Response:
    """Infer with exactly this version (the champion or the challenger): no split."""
    gateway = gateway_of(request)
    model, role = _version(gateway, model_name, version)
    body, caller = await prediction_request(request, gateway)
    return await answer(gateway, body, caller, pinned=(model, role))


# Inference ------------------------------------------------------------------------


async def answer(
    gateway: Gateway,
    body: Any,
    caller: Caller,
    pinned: tuple[ServedModel, str] | None = None,
) -> Response:
    """The V2 response to an inference request's parsed body; `pinned` (a served version
    and its role) answers it with that version, not the one the split picks."""
    champion = gateway.routing.champion if pinned is None else pinned[0]
    batch = await off_loop(
        caller.size, parse_v2, champion, body, limit=gateway.settings.max_batch_rows
    )
    given_id = _v2_id(body)
    wanted = _v2_outputs(champion, body)
    if pinned is None:
        served = await gateway.serve(batch, route="v2", caller=caller)
    else:
        served = await _serve_pinned(gateway, batch, pinned, caller)
    prediction, model = served.prediction, served.model
    outputs: list[dict[str, Any]] = [
        {
            "name": answer_name(model.card.task),
            "shape": [batch.rows],
            "datatype": _label_type(model),
            "data": prediction.labels,
        }
    ]
    if prediction.probabilities is not None:
        probabilities = prediction.probabilities
        outputs.append(
            {
                "name": PROBABILITIES,
                "shape": list(probabilities.shape),
                "datatype": "FP64",
                "data": probabilities.reshape(-1),
            }
        )
    if wanted:
        outputs = [o for o in outputs if o["name"] in wanted]
    parameters = {"request_id": served.request_id}
    if gateway.settings.role_header:  # which version answered, for clients that may know
        parameters["role"] = served.role
    payload = {
        "model_name": gateway.name,
        "model_version": model.version,
        "id": served.request_id if given_id is None else given_id,
        "parameters": parameters,
        "outputs": outputs,
    }
    return prediction_response(payload, served, role=gateway.settings.role_header)


async def _serve_pinned(
    gateway: Gateway,
    batch: Batch,
    pinned: tuple[ServedModel, str],
    caller: Caller,
) -> Served:
    """The answer of exactly the pinned version; 503 when it fails (no fallback)."""
    try:
        return await gateway.serve_version(batch, *pinned, route="v2", caller=caller)
    except VersionFailed as e:
        raise InputError(
            f"{e}; leave the version out of the path to be answered by the champion "
            "when the challenger fails",
            status=503,
            code="version_failed",
        ) from None


def _v2_id(body: dict[str, Any]) -> str | None:
    given = body.get("id")
    if given is not None and not isinstance(given, str):
        raise InputError(
            f"id must be a string, got {show_value(given)}", status=400, code="bad_body"
        )
    return given


def _v2_outputs(model: ServedModel, body: dict[str, Any]) -> set[str]:
    """The output names a V2 request asks for; empty for all of them."""
    requested = body.get("outputs")
    if requested is None:
        return set()
    names = [answer_name(model.card.task)] + (
        [PROBABILITIES] if model.card.task == "classification" else []
    )
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


# Metadata -------------------------------------------------------------------------


def _metadata(name: str, model: ServedModel) -> dict[str, Any]:
    """A version's V2 model metadata: its inputs and outputs, typed."""
    inputs = [
        {"name": feature, "datatype": _input_type(model, feature), "shape": [-1]}
        for feature in model.features
    ]
    outputs = [
        {"name": answer_name(model.card.task), "datatype": _label_type(model), "shape": [-1]}
    ]
    if model.card.task == "classification":
        classes = len(model.classes or [])
        outputs.append({"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, classes]})
    return {
        "name": name,
        "platform": "mlgate",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"task": model.card.task, "classes": model.classes},
    }


def _input_type(model: ServedModel, feature: str) -> str:
    """A feature's V2 datatype, as its schema types it (numbers as FP64 when it does not)."""
    if feature not in model.numeric:
        return "BYTES"
    rules = model.schema.columns.get(feature) if model.schema else None
    return "INT64" if rules is not None and rules.dtype == "int" else "FP64"


def _label_type(model: ServedModel) -> str:
    if model.card.task == "regression":
        return "FP64"
    classes = model.classes or []
    if classes and all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    return "BYTES"


_INFER = schemas.body(schemas.V2_INFER)
_MODEL = "/v2/models/{model_name}"
_VERSION = _MODEL + "/versions/{version}"

ROUTES = (
    Route("GET", "/v2/health/live", live, "live", "v2"),
    Route("GET", "/v2/health/ready", ready, "ready", "v2"),
    Route("GET", "/v2", server_metadata, "server_metadata", "v2"),
    Route("GET", _MODEL, model_metadata, "model_metadata", "v2"),
    Route("GET", _MODEL + "/ready", model_ready, "model_ready", "v2"),
    Route(
        "POST", _MODEL + "/infer", infer, "v2", "v2", body=_INFER, answer=answer, check=check_model
    ),
    Route("GET", _VERSION, version_metadata, "version_metadata", "v2"),
    Route("GET", _VERSION + "/ready", version_ready, "version_ready", "v2"),
    Route("POST", _VERSION + "/infer", infer_version, "v2_version", "v2", body=_INFER),
)
