"""Prediction-log records as the gateway spools them: one JSON line per answer.

The request path writes each answer's record to the spool before the answer is
sent (`Gateway._log`), so encoding is on the hot path: a request's numbers go
as one base64 block of float64 (exact, and quicker to write and read than
decimal text), and nothing is built per row. The layout, and how the converter
makes Parquet rows of it, is in `mlgate.state.layout`.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from mlgate.state.layout import MAX_TEXT

if TYPE_CHECKING:
    from mlgate.serving.batch import Batch
    from mlgate.serving.runtime import Prediction

__all__ = ["encode_feedback", "encode_prediction"]

_OPTIONS = orjson.OPT_APPEND_NEWLINE


def _capped(text: str | None) -> str | None:
    """At most MAX_TEXT characters of a request's own text: the log's bytes per request
    are bounded whoever calls the gateway (the HTTP routes refuse longer keys already)."""
    return text if text is None or len(text) <= MAX_TEXT else text[:MAX_TEXT]


def _base64(values: Any) -> str:
    return binascii.b2a_base64(
        np.ascontiguousarray(values, dtype=np.float64).tobytes(), newline=False
    ).decode("ascii")


def _features(record: dict[str, Any], columns: dict[str, Any]) -> None:
    """Put the batch's features in `record`: names in order, numbers as one block."""
    record["f"] = names = list(columns)
    block = getattr(columns, "block", None)  # `runtime.Columns`: its numbers in one array
    if block is not None:
        numeric: tuple[str, ...] | list[str] = columns.numeric  # type: ignore[attr-defined]
        text = [n for n in names if n not in numeric] if len(numeric) < len(names) else []
    else:
        numeric = [n for n in names if columns[n].dtype.kind == "f"]
        text = [n for n in names if columns[n].dtype.kind != "f"]
        block = np.array([columns[n] for n in numeric], dtype=np.float64) if numeric else None
    record["fx"] = None if len(numeric) == len(names) else list(numeric)
    record["fb"] = None if block is None or not len(numeric) else _base64(block)
    record["ft"] = {n: columns[n].tolist() for n in text} if text else None


def _plain(value: Any) -> Any:
    """What orjson cannot write itself (a numpy scalar among labels), as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def encode_prediction(
    time_ns: int,
    request_id: str,
    model: str,
    version: str,
    role: str,
    served: bool,
    strategy: str,
    weight: float,
    key: str | None,
    route: str,
    latency_ms: float,
    prediction: Prediction | None,
    regression: bool,
    error: str | None,
    batch: Batch,
    client_request_id: str | None,
    rows: list[int] | None = None,
    arm: str | None = None,
) -> bytes:
    """One answer (or failed prediction) as a spool line. `rows`: the rows' numbers when
    they are not 0, 1, 2... (a batch job's rows keep their place in its input); `arm`: the
    replica's arm of a rollout another controller runs (MLGATE_ARM)."""
    probabilities = None if prediction is None else prediction.probabilities
    record: dict[str, Any] = {
        "t": time_ns,
        "id": request_id,
        "m": model,
        "v": version,
        "r": role,
        "s": served,
        "st": strategy,
        "w": weight,
        "k": _capped(key),
        "rt": route,
        "ms": latency_ms,
        "e": _capped(error),
        "c": _capped(client_request_id),
        "a": arm,
        "n": batch.rows,
        "p": None if prediction is None else prediction.labels,
        "pb": None if probabilities is None else _base64(probabilities),
        "pc": None if probabilities is None else int(probabilities.shape[-1]),
        "reg": regression,
    }
    if rows is not None:
        record["rn"] = rows
    _features(record, batch.columns)
    return orjson.dumps(record, default=_plain, option=_OPTIONS)


def encode_feedback(time_ns: int, items: list[tuple[str, int, str]], model: str) -> bytes:
    """Labels given as (request id, row, label), one spool line each."""
    return b"".join(
        orjson.dumps(
            {"t": time_ns, "id": request_id, "row": row, "label": label, "m": model},
            option=_OPTIONS,
        )
        for request_id, row, label in items
    )
