"""What the gateway answers: JSON encoding, the prediction response, and the one
mapping of an error to its response.

An `MlgateError` carries its HTTP status (`http_status`) and a machine-readable
`code`; the mapping reads them and counts the refusal by that code. Any other
exception is a crash: logged, counted as "internal", answered 500 without its
text, and raised again for the server to see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import orjson
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from mlgate.errors import InputError, MlgateError

if TYPE_CHECKING:
    from mlgate.serving.gateway import Gateway, Served

__all__ = [
    "ErrorForm",
    "PredictionResponse",
    "dumps",
    "error_body",
    "failure",
    "json_response",
    "prediction_response",
    "readiness",
]

log = logging.getLogger(__name__)

_JSON = "application/json"

#: A protocol's own shape of a refusal: (status, mlgate's error body) -> (status, body).
ErrorForm = Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]]


def dumps(payload: Any) -> bytes:
    """`payload` as JSON bytes (numpy arrays as lists)."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:  # text orjson will not write (a lone surrogate echoed in a message)
        return json.dumps(payload, default=_plain).encode()


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response of `payload`."""
    return Response(dumps(payload), status_code=status, media_type=_JSON, headers=headers)


class PredictionResponse(Response):
    """A prediction's JSON response, its header list made in one go.

    Starlette's generic header handling (a dict, lower-cased, encoded, searched for
    the two it adds) costs more than the rest of writing the response; these headers
    are known. The same bytes go out as `Response(content, headers=...)` would send.
    """

    media_type = _JSON

    def __init__(
        self, content: bytes, served: Served, *, role: bool = False, tail: bytes | None = None
    ) -> None:
        self.status_code = 200
        self.body = content if tail is None else content + tail
        # Starlette awaits `background()` after the body: the off-path copy, if any.
        self.background = cast("BackgroundTask | None", served.shadow)
        self.raw_headers = [
            (b"x-mlgate-version", served.model.version.encode("latin-1")),
            (b"x-request-id", served.request_id.encode("latin-1")),
            (b"content-length", str(len(self.body)).encode("latin-1")),
        ]
        if tail is None:
            self.raw_headers.append((b"content-type", b"application/json"))
        else:  # the KServe V2 binary data extension: JSON, then the outputs' bytes
            self.raw_headers.append((b"content-type", b"application/octet-stream"))
            self.raw_headers.append(
                (b"inference-header-content-length", str(len(content)).encode("latin-1"))
            )
        if role:
            self.raw_headers.append((b"x-mlgate-role", served.role.encode("latin-1")))


#: What a health check's body says instead when the log cannot be written.
_UNREADY: dict[str, Any] = {"ready": False, "status": "unavailable"}


def readiness(gateway: Gateway, body: dict[str, Any], *, details: bool = True) -> Response:
    """A health check's answer: `body` (with the log's state when `details`); 503 with
    the reason while answers cannot be recorded (for longer than MLGATE_LOG_GRACE), as
    every prediction would be refused then. A state store out of reach is shown (`state`)
    but leaves the gateway ready: it answers with the split it last read."""
    health = gateway.log_health()
    shown = {"log": health, "state": gateway.state_health()} if details else {}
    if health["ready"]:
        return json_response({**body, **shown})
    problem = f"the prediction log cannot be written: {health['problem']}"
    failed = {**body, **{k: v for k, v in _UNREADY.items() if k in body}}
    return json_response({**failed, "error": problem, **shown}, status=503)


def prediction_response(
    payload: dict[str, Any], served: Served, *, role: bool, tail: bytes | None = None
) -> Response:
    """A prediction's response: `payload`, and headers saying which version answered it
    (with `role`, MLGATE_ROLE_HEADER, also whether it was the champion or the challenger);
    `tail`, binary tensor data sent after the JSON (KServe V2's binary data extension)."""
    return PredictionResponse(dumps(payload), served, role=role, tail=tail)


def error_body(error: MlgateError) -> dict[str, Any]:
    """An error's JSON body: `error` says what is wrong (KServe's form), `detail` holds
    its code, and the row and feature of a refused input or the fix of a refused act."""
    if isinstance(error, InputError):
        return error.body()
    detail: dict[str, Any] = {"code": error.code}
    if error.fix:
        detail["fix"] = error.fix
    return {"error": error.problem or str(error), "detail": detail}


def failure(
    gateway: Gateway, error: Exception, route: str, path: str, form: ErrorForm | None = None
) -> tuple[Response, bool]:
    """The one error-to-response mapping, and whether the error is a crash to raise again.

    `route` is the route's name (a bounded metric label), `path` the request's; `form`,
    the route's protocol's own shape of a refusal, if it has one.
    """
    shape = form or _as_is
    if isinstance(error, MlgateError):
        # Refused input, or the state forbids the act: the status is the error's own.
        gateway.metrics.errors.labels(gateway.name, route, error.code).inc()
        wait = getattr(error, "retry_after", None)
        headers = None if wait is None else {"retry-after": str(wait)}
        status, body = shape(error.http_status, error_body(error))
        return json_response(body, status=status, headers=headers), False
    if isinstance(error, ClientDisconnect):  # gone before its body was in: nobody to answer
        gateway.metrics.errors.labels(gateway.name, route, "disconnected").inc()
        status, body = shape(400, {"error": "the client went away"})
        return json_response(body, status=status), False
    log.exception("unexpected error on %s", path)
    gateway.metrics.errors.labels(gateway.name, route, "internal").inc()
    status, body = shape(500, {"error": "internal error; see the gateway's log"})
    return json_response(body, status=status), True


def _as_is(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return status, body
