"""Reading request bodies: the size limit, JSON, and CSV as pandas writes it.

Bodies are read by hand (orjson, no per-request pydantic models) because the
prediction routes are the hot path; FastAPI's routes (`read_body`) and the
fast path (`receive_body`) read them alike, then `decode` them (off the event
loop when large, `off_loop`). A refusal is an `InputError`: 413 past
MLGATE_MAX_BODY_BYTES, 415 for a body not sent as application/json (or text/csv
where CSV is taken) or sent compressed, 400 for a body that is not JSON (or CSV).

Where a route takes the KServe V2 binary data extension, a body with an
`Inference-Header-Content-Length` header is that many bytes of JSON, then raw
tensor bytes: it decodes to `Binary` (see `binary.py` for the tensors).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from starlette.requests import Request

from mlgate.errors import InputError
from mlgate.serving.batch import Batch, check_rows, from_columns
from mlgate.serving.coercion import listed
from mlgate.serving.limits import OFF_LOOP_BYTES
from mlgate.serving.runtime import ServedModel

__all__ = [
    "PANDAS_FORMATS",
    "Binary",
    "CsvText",
    "Raw",
    "csv_columns",
    "decode",
    "from_csv",
    "is_csv",
    "off_loop",
    "read_body",
    "read_json",
    "receive_body",
]

_T = TypeVar("_T")
_CSV_TYPES = frozenset({"text/csv", "application/csv"})
_OCTETS = "application/octet-stream"
#: The header of the KServe V2 binary data extension: how many bytes of the body are JSON.
JSON_SIZE = "inference-header-content-length"

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


@dataclass(frozen=True)
class Binary:
    """A body of the KServe V2 binary data extension: its JSON object, and the tensor
    bytes after it."""

    head: Any
    tail: bytes


@dataclass(frozen=True, slots=True)
class Raw:
    """A request's body as received: its bytes, whether they are CSV (else JSON), and
    for the binary data extension, how many of them are the JSON object."""

    data: bytes
    csv: bool = False
    json_size: int | None = None
    #: MLflow's JSON: bare NaN and Infinity tokens, and the Content-Type's `format`.
    mlflow: bool = False
    form: str | None = None


def is_csv(content_type: str | None) -> bool:
    """Whether a Content-Type header says CSV (text/csv, with or without parameters)."""
    if content_type is None or "csv" not in content_type.lower():  # the usual JSON request
        return False
    return _media(content_type) in _CSV_TYPES


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


async def read_json(request: Request, limit: int, *, empty: Any = None, csv: bool = False) -> Any:
    """The request's JSON body, read up to `limit` bytes; `empty` (if given) for no body.

    With `csv`, a body sent as text/csv comes back as `CsvText`, unparsed. A large
    body is parsed off the event loop.
    """
    raw = await read_body(request, limit, csv=csv)
    return await off_loop(len(raw.data), decode, raw, empty)


async def read_body(
    request: Request, limit: int, *, csv: bool = False, binary: bool = False
) -> Raw:
    """The request's body, read up to `limit` bytes (see `receive_body`)."""
    headers = request.headers
    return await receive_body(
        headers.get("content-length"),
        headers.get("content-type"),
        headers.get("content-encoding"),
        request.stream(),
        limit,
        csv=csv,
        browser="origin" in headers,
        json_size=headers.get(JSON_SIZE),
        binary=binary,
    )


async def receive_body(
    declared: str | None,
    content_type: str | None,
    encoding: str | None,
    chunks: AsyncIterator[bytes],
    limit: int,
    *,
    csv: bool = False,
    browser: bool = False,
    json_size: str | None = None,
    binary: bool = False,
) -> Raw:
    """A body from its chunks and headers (FastAPI's routes and the fast path), read up to
    `limit` bytes.

    JSON is taken as application/json (with `csv`, text/csv too), or with no
    Content-Type from a client that is no browser (`browser`: the request has an Origin
    header); stock Open Inference clients send none. A browser posts text/plain, form
    types or no type to any site without asking it first (no CORS preflight).

    `json_size` is the Inference-Header-Content-Length header, taken where `binary`
    (the KServe V2 binary data extension; its body may be application/octet-stream).

    With `csv` (MLflow's /invocations), JSON is read as MLflow's server reads it: the
    Content-Type may say `format=pandas-split` or `format=pandas-records` (older MLflow
    clients send the DataFrame bare so), and the bare tokens NaN and Infinity (Python's
    json writes them) are read as a missing value and an infinite number. A charset
    other than UTF-8 is refused (415), on every route.
    """
    size_of_json = _json_size(json_size, binary)
    form = None if content_type is None else _parameters(content_type, csv)
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise InputError(
            f"the body is sent with Content-Encoding {encoding[:40]!r}, which the gateway "
            "does not decode; send it uncompressed",
            status=415,
            code="unsupported_encoding",
        )
    if declared is not None:
        size = int(declared) if declared.isascii() and declared.isdigit() else None
        if size is None:
            raise InputError(
                f"the Content-Length header is not a number: {declared[:40]!r}",
                status=400,
                code="bad_header",
            )
        if size > limit:
            raise InputError(
                f"the body is {size} bytes; at most {limit} are accepted "
                "(MLGATE_MAX_BODY_BYTES): send fewer rows per request",
                status=413,
                code="too_large",
            )
    media = None if content_type is None else _media(content_type)
    if (
        media is not None
        and media != "application/json"
        and not (csv and media in _CSV_TYPES)
        and not (size_of_json is not None and media == _OCTETS)
    ):
        raise _wrong_type(content_type, csv)
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
    if media is None and browser and raw.strip():
        raise _wrong_type(None, csv)
    if size_of_json is not None and size_of_json > len(raw):
        raise InputError(
            f"the Inference-Header-Content-Length header says the JSON is {size_of_json} "
            f"bytes, but the body has only {len(raw)}; give the JSON object's length in bytes",
            status=400,
            code="bad_header",
        )
    return Raw(raw, csv=media in _CSV_TYPES, json_size=size_of_json, mlflow=csv, form=form)


#: The `format` parameters MLflow 1.x's clients put on application/json, and what they mean.
PANDAS_FORMATS = ("pandas-split", "pandas-records")


def _parameters(content_type: str, mlflow: bool) -> str | None:
    """The Content-Type's `format` (taken where `mlflow`), after refusing a charset other
    than UTF-8 (415): JSON and CSV are read as UTF-8."""
    form = None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"').lower()
        if key == "charset" and value not in ("utf-8", "utf8"):
            raise InputError(
                f"the body is sent with charset {value[:40]!r}; the gateway reads only UTF-8: "
                "send it encoded as UTF-8",
                status=415,
                code="unsupported_charset",
            )
        if key == "format" and mlflow:
            if value not in PANDAS_FORMATS:
                raise InputError(
                    f"the Content-Type's format {value[:40]!r} is not one this route takes; "
                    f"one of {', '.join(PANDAS_FORMATS)}, or none",
                    status=415,
                    code="unsupported_media_type",
                )
            form = value
    return form


def _json_size(header: str | None, binary: bool) -> int | None:
    """The JSON object's length in bytes, from the Inference-Header-Content-Length header."""
    if header is None:
        return None
    if not binary:
        raise InputError(
            "the Inference-Header-Content-Length header (the KServe V2 binary data "
            "extension) is taken only by /v2/models/NAME/infer; send a plain JSON body here",
            status=400,
            code="bad_header",
        )
    if not (header.isascii() and header.isdigit()):
        raise InputError(
            f"the Inference-Header-Content-Length header is not a number: {header[:40]!r}",
            status=400,
            code="bad_header",
        )
    return int(header)


def _wrong_type(content_type: str | None, csv: bool) -> InputError:
    said = "no Content-Type" if content_type is None else f"Content-Type {content_type[:60]!r}"
    allowed = "application/json (or text/csv)" if csv else "application/json"
    return InputError(
        f"the body is sent with {said}; send it as {allowed}",
        status=415,
        code="unsupported_media_type",
    )


def decode(raw: Raw, empty: Any = None) -> Any:
    """A body's JSON value (`empty`, if given, for no body), its CSV as `CsvText`, or
    with binary tensor data, a `Binary`."""
    if raw.csv:
        return CsvText(raw.data)
    if raw.json_size is not None:
        return Binary(_loads(raw.data[: raw.json_size]), raw.data[raw.json_size :])
    if not raw.data.strip():
        if empty is not None:
            return empty
        raise InputError("the request has no body; send JSON", status=400, code="bad_body")
    body = _loads(raw.data, constants=raw.mlflow)
    if raw.form == "pandas-split" and not (isinstance(body, dict) and _MLFLOW_KEYS & body.keys()):
        return {"dataframe_split": body}
    if raw.form == "pandas-records" and isinstance(body, list):
        return {"dataframe_records": body}
    return body


#: The keys of MLflow's JSON scoring bodies (MLflow 2 and later).
_MLFLOW_KEYS = frozenset({"dataframe_split", "dataframe_records", "instances", "inputs"})


async def off_loop(size: int, work: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """`work(*args, **kwargs)`, on a worker thread when it is about a body of more than
    `OFF_LOOP_BYTES` (parsing and checking it could hold the event loop for long)."""
    if size <= OFF_LOOP_BYTES:
        return work(*args, **kwargs)
    return await asyncio.to_thread(work, *args, **kwargs)


def _loads(raw: bytes, *, constants: bool = False) -> Any:
    """The JSON value of `raw`; with `constants`, bare NaN is read as null and Infinity
    as an infinite number, as Python's json (and so MLflow's server) reads them."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        try:
            bytes(raw).decode("utf-8")
        except UnicodeDecodeError as text:  # Latin-1, or a compressed body sent as JSON
            raise InputError(
                f"the body is not UTF-8 text (byte {text.start}): send JSON encoded as "
                "UTF-8, and a compressed body with its Content-Encoding",
                status=400,
                code="bad_json",
            ) from e
        if "infinity" not in str(e) and not (constants and _NOT_JSON.search(raw)):
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
        parsed = json.loads(
            raw, parse_constant=_constant if constants else _no_constant, parse_int=_integer
        )
        orjson.dumps(parsed)  # refuses what orjson.loads would have: lone surrogates
    except (ValueError, TypeError, RecursionError):
        raise InputError(
            f"the body is not valid JSON: {first}", status=400, code="bad_json"
        ) from first
    return parsed


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")


def _constant(word: str) -> float | None:
    """MLflow's reading of Python's non-JSON words: NaN is missing, Infinity infinite."""
    return None if word == "NaN" else float(word)


def _integer(text: str) -> int | float:
    # As orjson does: integers past 64 bits become floats (and far past, infinity).
    return int(text) if len(text) <= 19 else float(text)


def from_csv(model: ServedModel, raw: bytes, *, limit: int) -> Batch:
    """A batch from CSV text as pandas writes it: a header of feature names, then rows;
    an empty field is a missing value. Row numbers in errors count data rows from 0."""
    return from_columns(model, csv_columns(model, raw, limit=limit), limit=limit)


def csv_columns(model: ServedModel, raw: bytes, *, limit: int) -> dict[str, list[Any]]:
    """CSV text as pandas writes it, as one list of values per column of its header
    (checked: a header naming some feature, rows as wide as it, none missing)."""
    table = _csv_table(raw)
    header, rows = table[0], table[1:]
    twice = sorted(name for name, count in Counter(header).items() if count > 1)
    if twice:
        raise InputError(
            f"the CSV header names {listed(twice)} more than once",
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
    return {
        name: [None if value in _CSV_MISSING else value for value in values]
        for name, values in zip(header, zip(*rows, strict=True), strict=True)
    }


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
