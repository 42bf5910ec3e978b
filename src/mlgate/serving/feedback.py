"""Ground-truth labels: POST /feedback joins them to earlier predictions by request id.

A classifier's label must name one of the classes the served versions predict:
by its text, or by its value when both are numbers (1.0 names the class 1). It
is kept as the predictions show the class, so that it joins them; a label like
"yes" or 0.5 would never match a prediction 1, and is refused.

Labels steer rollouts, so they are taken only from whoever may send them and only
for what was answered: with MLGATE_FEEDBACK_TOKEN set, the route needs it as a
bearer token (401, and 429 after repeated failures from one address); a label for
a request id the gateway never issued is answered as `unknown` and not kept; a
second label for a row already labelled is answered as `duplicate` and not kept
(the analyses take each row's first label in any case).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate.errors import InputError
from mlgate.serving import schemas
from mlgate.serving.body import read_json
from mlgate.serving.classes import Classes
from mlgate.serving.coercion import show_value
from mlgate.serving.gateway import Gateway
from mlgate.serving.request_ids import MANY_ROWS
from mlgate.serving.responses import json_response
from mlgate.serving.routes import Route, client_address, gateway_of

__all__ = ["ROUTES"]

#: (request id, row, label)
Item = tuple[str, int, Any]
#: (request id, row or None when the label names none, label)
Given = tuple[str, int | None, Any]


async def feedback(request: Request) -> Response:
    gateway = gateway_of(request)
    token = gateway.settings.feedback_token
    if token is not None:
        gateway.tokens.check(
            client_address(request),
            request.headers.get("authorization"),
            token,
            "POST /feedback needs Authorization: Bearer <MLGATE_FEEDBACK_TOKEN>",
        )
    body = await read_json(request, gateway.settings.max_body_bytes)
    given = _items(body, gateway.settings.max_batch_rows, _classes(gateway), _numeric(gateway))
    items = _check_rows(gateway, given)
    labelled = gateway.record_feedback(items)
    counted = gateway.metrics.feedback
    for outcome in ("accepted", "unknown", "duplicate"):
        if getattr(labelled, outcome):
            counted.labels(gateway.name, outcome).inc(getattr(labelled, outcome))
    return json_response(
        {
            "accepted": labelled.accepted,
            "unknown": labelled.unknown,
            "duplicate": labelled.duplicate,
        }
    )


def _classes(gateway: Gateway) -> Classes | None:
    """The classes a label may name (the served versions' own), or None for regression."""
    routing = gateway.routing
    found: dict[str, None] = {}
    for model in (routing.champion, routing.challenger):
        if model is not None and model.card.task == "classification" and model.classes:
            found.update(dict.fromkeys(map(str, model.classes)))
    return Classes(list(found)) if found else None


def _numeric(gateway: Gateway) -> bool:
    """Whether labels must be numbers: the served versions are all regressors."""
    routing = gateway.routing
    served = [m for m in (routing.champion, routing.challenger) if m is not None]
    return all(m.card.task == "regression" for m in served)


def _check_rows(gateway: Gateway, items: list[Given]) -> list[Item]:
    """The labels with their rows: a label without a row is for row 0 of a one-row
    request. Refuses a label for a row past the end of the request its id names (the id
    carries the request's row count), or without a row for a request of several; ids
    never issued are left to be counted as unknown."""
    checked: list[Item] = []
    for i, (request_id, row, label) in enumerate(items):
        rows = gateway.request_ids.rows(request_id)
        if row is None and rows is not None and rows > 1:
            had, numbered = (
                ("very many rows", "from 0")
                if rows == MANY_ROWS
                else (f"{rows} rows", f"from 0 to {rows - 1}")
            )
            raise InputError(
                f"feedback[{i}] names no row, but request {request_id} had {had}: give "
                f"feedback[{i}].row, the row's position in the request ({numbered})",
                row=i,
                code="bad_feedback",
            )
        if row is not None and rows is not None and row >= rows:
            raise InputError(
                f"feedback[{i}].row is {row}, but request {request_id} had {rows} row(s), "
                f"numbered from 0 to {rows - 1}",
                row=i,
                code="bad_feedback",
            )
        checked.append((request_id, 0 if row is None else row, label))
    return checked


def _items(
    body: Any, limit: int, classes: Classes | None = None, numeric: bool = False
) -> list[Given]:
    """The (request id, row, label) of each label in `body`; a classifier's labels must
    be one of its `classes` as predictions show them, a regressor's a number."""
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
    return [_item(i, entry, limit, classes, numeric) for i, entry in enumerate(entries)]


def _is_number(label: Any) -> bool:
    if isinstance(label, int | float):
        return True
    try:
        return label.isascii() and math.isfinite(float(label))
    except ValueError:
        return False


def _item(i: int, entry: Any, limit: int, classes: Classes | None, numeric: bool) -> Given:
    """Label `i` of a request, checked."""
    if not isinstance(entry, dict):
        raise InputError(
            f'feedback[{i}] must be an object {{"request_id": ..., "label": ...}}',
            row=i,
            code="bad_feedback",
        )
    request_id, label, row = entry.get("request_id"), entry.get("label"), entry.get("row")
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
    if classes is not None:
        named = classes.match(label)
        if named is None:
            raise InputError(
                f"feedback[{i}].label {show_value(label)} is not a class the model predicts; "
                f"send one of: {classes.listed()}",
                row=i,
                code="bad_feedback",
            )
        label = named
    if classes is None and numeric and not _is_number(label):
        raise InputError(
            f"feedback[{i}].label {show_value(label)} is not a number; a regressor's label "
            "is the true value it should have predicted",
            row=i,
            code="bad_feedback",
        )
    if row is not None and (
        isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < limit
    ):
        raise InputError(
            f"feedback[{i}].row must be the row's position in its request, an integer "
            f"from 0 to {limit - 1}; got {show_value(row)}",
            row=i,
            code="bad_feedback",
        )
    return request_id, row, label


ROUTES = (
    Route("POST", "/feedback", feedback, "feedback", "simple", body=schemas.body(schemas.FEEDBACK)),
)
