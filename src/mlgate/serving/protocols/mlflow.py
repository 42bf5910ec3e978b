"""MLflow's scoring protocol: POST /invocations, and /ping, /health and /version.

/invocations takes exactly one of `dataframe_split`, `dataframe_records`,
`instances` or `inputs` as JSON, or CSV as pandas writes it (text/csv). It answers
what `mlflow models serve` answers for the version's MLmodel (`registry.pyfunc`),
one object per row: {"label": ..., "probabilities": [...]} from a classifier,
{"prediction": ...} from a regressor.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate._version import __version__
from mlgate.errors import InputError
from mlgate.serving import schemas
from mlgate.serving.batch import (
    Batch,
    first_repeat,
    from_columns,
    from_plain_rows,
    from_records,
    from_rows,
)
from mlgate.serving.body import CsvText, from_csv, off_loop
from mlgate.serving.coercion import listed
from mlgate.serving.gateway import Gateway
from mlgate.serving.request_ids import Caller
from mlgate.serving.responses import json_response, prediction_response
from mlgate.serving.routes import Route, gateway_of, prediction_request
from mlgate.serving.runtime import ServedModel

__all__ = ["ROUTES", "answer", "parse_mlflow"]

_KEYS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})


async def ping() -> Response:
    return json_response({"status": "ok"})


async def health(request: Request) -> Response:
    return json_response({"status": "ok", **gateway_of(request).describe()})


async def version(request: Request) -> Response:
    gateway = gateway_of(request)
    return json_response(
        {"mlgate": __version__, "model": gateway.name, "version": gateway.routing.champion.version}
    )


async def invocations(request: Request) -> Response:
    gateway = gateway_of(request)
    return await answer(gateway, *await prediction_request(request, gateway, csv=True))


async def answer(gateway: Gateway, body: Any, caller: Caller) -> Response:
    """MLflow's response to a scoring request's parsed body (JSON, or `CsvText`)."""
    champion = gateway.routing.champion
    batch = await off_loop(
        caller.size, parse_mlflow, champion, body, limit=gateway.settings.max_batch_rows
    )
    served = await gateway.serve(batch, route="invocations", caller=caller)
    payload = {
        "predictions": served.prediction.records(served.model.card.task),
        "model": gateway.name,
        "version": served.model.version,
        "request_id": served.request_id,
    }
    return prediction_response(payload, served, role=gateway.settings.role_header)


def parse_mlflow(model: ServedModel, body: Any, *, limit: int) -> Batch:
    """The batch a scoring request's parsed body (JSON, or `CsvText`) holds, in whichever
    form it is given."""
    rows = limit
    if isinstance(body, CsvText):
        return from_csv(model, body.raw, limit=rows)
    if not isinstance(body, dict) or len(_KEYS.intersection(body)) != 1:
        raise InputError(
            "expected exactly one of dataframe_split, dataframe_records, instances or inputs",
            status=400,
            code="bad_body",
        )
    if "dataframe_split" in body:
        return _from_split(model, body["dataframe_split"], rows)
    if "dataframe_records" in body:
        return from_records(model, body["dataframe_records"], limit=rows)
    given = body.get("instances", body.get("inputs"))
    if isinstance(given, dict):
        return from_columns(model, given, limit=rows)
    return from_rows(model, given, limit=rows)


def _from_split(model: ServedModel, split: Any, rows: int) -> Batch:
    """The batch of a `dataframe_split`: {"columns": [...], "data": [[...], ...]}."""
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
    twice = first_repeat(names)
    if twice is not None:
        raise InputError(
            f"dataframe_split.columns names {listed([twice])} more than once",
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


def _odd_row(data: list[Any], width: int) -> tuple[int, str] | None:
    """The first row that is not a list of `width` values, and what it is instead."""
    for i, row in enumerate(data):
        if not isinstance(row, list):
            return i, "no list of values"
        if len(row) != width:
            return i, f"{len(row)}"
    return None


ROUTES = (
    Route("GET", "/ping", ping, "ping", "mlflow"),
    Route("GET", "/health", health, "health", "mlflow"),
    Route("GET", "/version", version, "version", "mlflow"),
    Route(
        "POST",
        "/invocations",
        invocations,
        "invocations",
        "mlflow",
        body=schemas.body(schemas.INVOCATIONS, csv=True),
        answer=answer,
        csv=True,
    ),
)
