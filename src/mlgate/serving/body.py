"""Reading request bodies: the size limit, JSON, and CSV as pandas writes it.

Bodies are read by hand (orjson, no per-request pydantic models) because the
prediction routes are the hot path; FastAPI's routes (`read_json`) and the
fast path (`json_body`) read them alike. A refusal is an `InputError`: 413
past MLGATE_MAX_BODY_BYTES, 400 for a body that is not JSON (or CSV).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from mlgate.errors import InputError
from mlgate.serving.batch import Batch, check_rows, from_columns
from mlgate.serving.runtime import ServedModel

__all__ = ["CsvText", "from_csv", "is_csv", "json_body", "read_json"]

#: What Python's json.dumps writes for float("nan") and float("inf"), and JSON does not have.
_NOT_JSON = re.compile(rb"[\[:,]\s*-?(NaN|Infinity)\s*[\],}]")
#: What pandas' read_csv (and so MLflow's own server) reads as a missing value.
_CSV_MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)


@dataclass(frozen=True)
class CsvText:
    """A request body sent as text/csv, not parsed yet."""

    raw: bytes


def is_csv(content_type: str | None) -> bool:
    """Whether a Content-Type header says CSV (text/csv, with or without parameters)."""
    if content_type is None or "csv" not in content_type.lower():  # the usual JSON request
        return False
    return content_type.split(";", 1)[0].strip().lower() in (
        "text/csv",
        "application/csv",
    )


async def read_json(request: Request, limit: int, *, empty: Any = None, csv: bool = False) -> Any:
    """The request's JSON body, read up to `limit` bytes; `empty` (if given) for no body.

    With `csv`, a body sent as text/csv comes back as `CsvText`, unparsed.
    """
    return await json_body(
        request.headers.get("content-length"),
        request.stream(),
        limit,
        empty=empty,
        csv=csv and is_csv(request.headers.get("content-type")),
    )


async def json_body(
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


def from_csv(model: ServedModel, raw: bytes, *, limit: int) -> Batch:
    """A batch from CSV text as pandas writes it: a header of feature names, then rows;
    an empty field is a missing value. Row numbers in errors count data rows from 0."""
    table = _csv_table(raw)
    header, rows = table[0], table[1:]
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(
            f"the CSV header names {', '.join(map(repr, twice))} more than once",
            code="wrong_features",
            feature=twice[0],
        )
    expected = f"send a header ({', '.join(model.features)}), then one line per row"
    if not set(header) & model.feature_set:
        raise InputError(
            "the CSV's first line is read as the header of feature names, and it names none "
            f"of the model's features; {expected}",
            status=400,
            code="bad_csv",
        )
    if not rows:
        raise InputError(
            f"the CSV has a header but no row after it; {expected}", status=400, code="empty"
        )
    check_rows(len(rows), limit)
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise InputError(
                f"CSV row {i} has {len(row)} value(s) but the header names {len(header)}",
                row=i,
                code="bad_csv",
            )
    columns = {
        name: [None if value in _CSV_MISSING else value for value in values]
        for name, values in zip(header, zip(*rows, strict=True), strict=True)
    }
    return from_columns(model, columns, limit=limit)


def _csv_table(raw: bytes) -> list[list[str]]:
    """The CSV body's lines, blank ones left out; refused when it has none."""
    import csv
    import io

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"the CSV body is not UTF-8 text (byte {e.start})", status=400, code="bad_csv"
        ) from None
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise InputError(f"the CSV body cannot be read: {e}", status=400, code="bad_csv") from None
    table = [row for row in table if row]  # blank lines
    if not table:
        raise InputError(
            "the CSV body is empty; send a header of feature names, then rows",
            status=400,
            code="bad_csv",
        )
    return table
