"""MLflow's scoring protocol: POST /invocations, and /ping, /health and /version.

/invocations takes exactly one of `dataframe_split`, `dataframe_records`,
`instances` or `inputs` as JSON, or CSV as pandas writes it (text/csv). It answers
what `mlflow models serve` answers for the version's MLmodel (`registry.pyfunc`),
one object per row: {"label": ..., "probabilities": [...]} from a classifier,
{"prediction": ...} from a regressor; and it answers as MLflow's own scoring server
does where clients can tell:

- JSON is read as MLflow reads it (see `body.receive_body`): bare NaN is a
  missing value, and `application/json; format=pandas-split` (or
  `pandas-records`) takes the DataFrame bare, as MLflow 1.x clients send it;
- a column the model does not use (an id, or the index `df.to_csv()` writes
  under an empty name) is ignored, as MLflow ignores it: counted in
  `mlgate_ignored_columns_total` and named in the answer's `ignored_columns` (the
  first 20, with `ignored_columns_total` when there are more);
- a refusal is `{"error_code": ..., "message": ...}` (with mlgate's `detail`
  beside them), 400 for a bad request, as MLflow's clients read it.
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
from mlgate.serving.body import CsvText, csv_columns, off_loop
from mlgate.serving.coercion import listed
from mlgate.serving.gateway import Gateway
from mlgate.serving.request_ids import Caller
from mlgate.serving.responses import json_response, prediction_response, readiness
from mlgate.serving.routes import Route, gateway_of, prediction_request
from mlgate.serving.runtime import ServedModel

__all__ = ["ROUTES", "answer", "mlflow_error", "parse_mlflow", "read_mlflow"]

_KEYS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})


async def ping(request: Request) -> Response:
    return readiness(gateway_of(request), {"status": "ok"}, details=False)


async def health(request: Request) -> Response:
    gateway = gateway_of(request)
    return readiness(gateway, {"status": "ok", **gateway.describe()})


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
    batch, ignored = await off_loop(
        caller.size, read_mlflow, champion, body, limit=gateway.settings.max_batch_rows
    )
    served = await gateway.serve(batch, route="invocations", caller=caller)
    payload: dict[str, Any] = {
        "predictions": served.prediction.records(served.model.card.task),
        "model": gateway.name,
        "version": served.model.version,
        "request_id": served.request_id,
    }
    if ignored:
        gateway.metrics.ignored.labels(gateway.name, "invocations").inc(len(ignored))
        payload["ignored_columns"] = ignored[:IGNORED_NAMED]
        if len(ignored) > IGNORED_NAMED:  # a body of thousands of columns: count the rest
            payload["ignored_columns_total"] = len(ignored)
    return prediction_response(payload, served, role=gateway.settings.role_header)


#: The ignored columns an answer names at most (then it gives their count).
IGNORED_NAMED = 20


def parse_mlflow(model: ServedModel, body: Any, *, limit: int) -> Batch:
    """The batch a scoring request's parsed body (JSON, or `CsvText`) holds."""
    return read_mlflow(model, body, limit=limit)[0]


def read_mlflow(model: ServedModel, body: Any, *, limit: int) -> tuple[Batch, list[str]]:
    """The batch a scoring request's parsed body (JSON, or `CsvText`) holds, in whichever
    form it is given, and the columns it names that the model does not use (ignored)."""
    rows = limit
    if isinstance(body, CsvText):
        columns, ignored = _used(model, csv_columns(model, body.raw, limit=rows))
        return from_columns(model, columns, limit=rows), ignored
    if not isinstance(body, dict) or len(_KEYS.intersection(body)) != 1:
        raise InputError(
            "expected exactly one of dataframe_split, dataframe_records, instances or inputs",
            status=400,
            code="bad_body",
        )
    if "dataframe_split" in body:
        return _from_split(model, body["dataframe_split"], rows)
    if "dataframe_records" in body:
        return _from_records(model, body["dataframe_records"], rows)
    given = body.get("instances", body.get("inputs"))
    if isinstance(given, dict):
        columns, ignored = _used(model, given)
        return from_columns(model, columns, limit=rows), ignored
    if isinstance(given, list) and given and all(isinstance(r, dict) for r in given):
        return _from_records(model, given, rows)
    return from_rows(model, given, limit=rows), []


def _used(model: ServedModel, columns: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The columns the model uses, and the names of the others (MLflow ignores them)."""
    features = model.feature_set
    if features.issuperset(columns):
        return columns, []
    kept = {name: values for name, values in columns.items() if name in features}
    return kept, [name for name in columns if name not in features]


def _from_records(model: ServedModel, records: Any, rows: int) -> tuple[Batch, list[str]]:
    """The batch of records, each keeping only the model's features."""
    features = model.feature_set
    ignored: dict[str, None] = {}  # in the order first met
    if isinstance(records, list):
        for i, record in enumerate(records):
            if isinstance(record, dict) and not features.issuperset(record):
                records[i], extra = _used(model, record)
                ignored.update(dict.fromkeys(extra))
    return from_records(model, records, limit=rows), list(ignored)


def _from_split(model: ServedModel, split: Any, rows: int) -> tuple[Batch, list[str]]:
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
            return found, []
    names = list(map(str, columns))
    ignored = [name for name in names if name not in model.feature_set]
    if ignored and len(ignored) < len(names):  # with none of the features, refused below
        keep = [j for j, name in enumerate(names) if name in model.feature_set]
        names = [names[j] for j in keep]
        data = [[row[j] for j in keep] for row in data]
    else:
        ignored = []
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
        return from_columns(model, dict(zip(names, columns_of, strict=True)), limit=rows), ignored
    records = [dict(zip(names, r, strict=True)) for r in data]
    return from_records(model, records, limit=rows), ignored


#: MLflow's error code for each status mlgate answers /invocations with.
_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "RESOURCE_DOES_NOT_EXIST",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def mlflow_error(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A refusal as MLflow's scoring server answers one: `error_code` and `message`, and
    400 where mlgate would answer 422 (a request MLflow finds bad); mlgate's `detail`
    (code, row, feature) stays beside them."""
    status = 400 if status == 422 else status
    shaped = {"error_code": _ERROR_CODES.get(status, "BAD_REQUEST"), "message": body["error"]}
    if "detail" in body:
        shaped["detail"] = body["detail"]
    return status, shaped


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
        errors=mlflow_error,
    ),
)
