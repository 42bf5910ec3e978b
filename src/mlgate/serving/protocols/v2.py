"""The Open Inference Protocol (KServe V2): health, metadata and inference.

A request may name a version in its path (`/versions/{version}/...`): it is
answered by exactly that version, the champion or the challenger, with no split
and no fallback. Inference takes the binary tensor data extension (`binary.py`)
both ways; `GET /v2/models` lists the model (KServe), and Triton's model
configuration (`.../config`) and repository index answer what tritonclient asks.
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
from mlgate.serving.binary import EXTENSION, wants_binary, write_values
from mlgate.serving.body import Binary, off_loop
from mlgate.serving.coercion import show_value
from mlgate.serving.gateway import Gateway, Served
from mlgate.serving.request_ids import Caller
from mlgate.serving.responses import json_response, prediction_response, readiness
from mlgate.serving.routes import Route, gateway_of, prediction_request
from mlgate.serving.runtime import ServedModel
from mlgate.serving.tensors import parse_v2

__all__ = ["ROUTES", "answer", "check_model", "served_version"]


def check_model(gateway: Gateway, model_name: str) -> None:
    """Refuse a model name other than the gateway's own (404)."""
    if model_name != gateway.name:
        shown = model_name if len(model_name) <= 100 else model_name[:97] + "..."
        raise InputError(
            f"unknown model {shown!r}; this gateway serves {gateway.name!r}",
            status=404,
            code="unknown_model",
        )


def served_version(gateway: Gateway, model_name: str, version: str) -> tuple[ServedModel, str]:
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


async def ready(request: Request) -> Response:
    return readiness(gateway_of(request), {"ready": True})


async def server_metadata() -> Response:
    return json_response({"name": "mlgate", "version": __version__, "extensions": [EXTENSION]})


async def model_list(request: Request) -> Response:
    """The models this gateway serves (KServe's model list): one."""
    return json_response({"models": [gateway_of(request).name]})


async def repository_index(request: Request) -> Response:
    """The served versions, as Triton's model repository index lists them."""
    gateway = gateway_of(request)
    routing = gateway.routing
    served = [routing.champion] + ([routing.challenger] if routing.challenger else [])
    return json_response(
        [{"name": gateway.name, "version": m.version, "state": "READY"} for m in served]
    )


async def model_config(model_name: str, request: Request) -> Response:
    """The champion's configuration, as Triton's model configuration gives it."""
    gateway = gateway_of(request)
    check_model(gateway, model_name)
    champion = gateway.routing.champion
    return json_response(_config(gateway.name, champion))


async def version_config(model_name: str, version: str, request: Request) -> Response:
    """A served version's configuration, as Triton's model configuration gives it."""
    gateway = gateway_of(request)
    model, _ = served_version(gateway, model_name, version)
    return json_response(_config(gateway.name, model))


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
    return readiness(gateway, {"name": gateway.name, "ready": True}, details=False)


async def infer(model_name: str, request: Request) -> Response:
    gateway = gateway_of(request)
    check_model(gateway, model_name)
    return await answer(gateway, *await prediction_request(request, gateway, binary=True))


async def version_metadata(model_name: str, version: str, request: Request) -> Response:
    gateway = gateway_of(request)
    model, role = served_version(gateway, model_name, version)
    return json_response(
        _metadata(gateway.name, model) | {"versions": [model.version]},
        headers={"x-mlgate-version": model.version, "x-mlgate-role": role},
    )


async def version_ready(model_name: str, version: str, request: Request) -> Response:
    gateway = gateway_of(request)
    model, _ = served_version(gateway, model_name, version)
    return json_response({"name": gateway.name, "version": model.version, "ready": True})


async def infer_version(model_name: str, version: str, request: Request) -> Response:
    """Infer with exactly this version (the champion or the challenger): no split."""
    gateway = gateway_of(request)
    model, role = served_version(gateway, model_name, version)
    body, caller = await prediction_request(request, gateway, binary=True)
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
    head = body.head if isinstance(body, Binary) else body
    given_id = _v2_id(head)
    wanted = _v2_outputs(champion, head)
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
    binary = wants_binary(head, wanted or {o["name"]: {} for o in outputs})
    tail = []
    for output in outputs:
        if output["name"] in binary:
            data = write_values(output.pop("data"), output["datatype"])
            output["parameters"] = {"binary_data_size": len(data)}
            tail.append(data)
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
    return prediction_response(
        payload, served, role=gateway.settings.role_header, tail=b"".join(tail) if binary else None
    )


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


def _v2_outputs(model: ServedModel, body: dict[str, Any]) -> dict[str, Any]:
    """The outputs a V2 request asks for, each with its parameters; empty for all."""
    requested = body.get("outputs")
    if requested is None:
        return {}
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
    wanted = {o["name"]: o.get("parameters") or {} for o in requested}
    unknown = sorted(set(wanted) - set(names))
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


def _config(name: str, model: ServedModel) -> dict[str, Any]:
    """A version's configuration in the form of Triton's model configuration (its JSON):
    inputs and outputs with `TYPE_` datatypes; the batch is the first dimension."""
    metadata = _metadata(name, model)

    def tensors(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"name": t["name"], "data_type": "TYPE_" + _TRITON.get(t["datatype"], t["datatype"])}
            | {"dims": t["shape"]}
            for t in specs
        ]

    return {
        "name": name,
        "platform": "mlgate",
        "backend": "onnxruntime" if model.fast else "python",
        "version_policy": {"specific": {"versions": [model.version]}},
        "max_batch_size": 0,
        "input": tensors(metadata["inputs"]),
        "output": tensors(metadata["outputs"]),
        "parameters": {"task": {"string_value": model.card.task}},
    }


#: Triton's configuration names for datatypes the V2 protocol names otherwise.
_TRITON = {"BYTES": "STRING"}


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
    Route("GET", "/v2/models", model_list, "model_list", "v2"),
    Route("POST", "/v2/repository/index", repository_index, "repository_index", "v2"),
    Route("GET", _MODEL, model_metadata, "model_metadata", "v2"),
    Route("GET", _MODEL + "/ready", model_ready, "model_ready", "v2"),
    Route("GET", _MODEL + "/config", model_config, "model_config", "v2"),
    Route(
        "POST",
        _MODEL + "/infer",
        infer,
        "v2",
        "v2",
        body=_INFER,
        answer=answer,
        check=check_model,
        binary=True,
    ),
    Route("GET", _VERSION, version_metadata, "version_metadata", "v2"),
    Route("GET", _VERSION + "/ready", version_ready, "version_ready", "v2"),
    Route("GET", _VERSION + "/config", version_config, "version_config", "v2"),
    Route("POST", _VERSION + "/infer", infer_version, "v2_version", "v2", body=_INFER, binary=True),
)
