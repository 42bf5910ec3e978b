"""Prediction-log records: a tuple queued per answer, made into a table in the writer thread.

The request path only captures what it knows (`entry`); the columns, one row
per predicted row, are built later and all at once by `table`, off the event
loop's hot path and without a dict per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.serving.runtime import Columns

if TYPE_CHECKING:
    from mlgate.serving.batch import Batch
    from mlgate.serving.runtime import Prediction

__all__ = ["Entry", "entry", "table"]

#: (time in ns since the epoch, request id, model, version, role, served, strategy,
#: weight, routing key, route, latency in ms, prediction or None, regression?, error, batch,
#: the client's own request id)
Entry = tuple[
    int,
    str,
    str,
    str,
    str,
    bool,
    str,
    float,
    "str | None",
    str,
    float,
    "Prediction | None",
    bool,
    "str | None",
    "Batch",
    "str | None",
]


def entry(
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
    client_request_id: str | None = None,
) -> Entry:
    """One answer (or failure) to log, as the gateway queues it."""
    return (
        time_ns,
        request_id,
        model,
        version,
        role,
        served,
        strategy,
        weight,
        key,
        route,
        latency_ms,
        prediction,
        regression,
        error,
        batch,
        client_request_id,
    )


def _scores(entries: list[Entry], counts: list[int]) -> Any:
    """The score of every row: the top class probability, a regressor's value, or None."""
    import numpy as np

    tables = [e[11].probabilities if e[11] is not None else None for e in entries]
    first = tables[0]
    if first is not None:
        known = [t for t in tables if t is not None and t.shape[1:] == first.shape[1:]]
        if len(known) == len(tables):  # the usual segment: one classifier's answers
            return np.concatenate(known).max(axis=1)
    scores: list[float | None] = []
    for e, probabilities, rows in zip(entries, tables, counts, strict=True):
        prediction = e[11]
        if prediction is None:
            scores.extend([None] * rows)
        elif probabilities is not None:
            scores.extend(probabilities.max(axis=1).tolist())
        elif e[12]:  # a regressor's value is its own score
            scores.extend(None if label is None else float(label) for label in prediction.labels)
        else:
            scores.extend([None] * rows)
    return scores


def _features(batches: list[Batch]) -> Any:
    """The rows' features as one struct column: numbers as float64 (NaN missing), text."""
    import numpy as np
    import pyarrow as pa

    layout = tuple(batches[0].columns)
    first = batches[0].columns
    first_numeric = first.numeric if isinstance(first, Columns) else None
    stacked: dict[str, Any] = {}
    if all(tuple(b.columns) == layout for b in batches):  # the usual segment
        names: list[str] = list(layout)
        blocks = [
            b.columns.block
            for b in batches
            if isinstance(b.columns, Columns) and b.columns.numeric == first_numeric
        ]
        if first_numeric is not None and len(blocks) == len(batches):
            # One [feature, row] block per request: one concatenation for all of them.
            whole = np.concatenate(blocks, axis=1)
            stacked = {name: whole[j] for j, name in enumerate(first_numeric)}
        per_name = [
            () if name in stacked else tuple(b.columns[name] for b in batches) for name in names
        ]
    else:  # versions with different features: each row has nulls for the others'
        seen: dict[str, None] = {}
        for b in batches:
            seen.update(dict.fromkeys(b.columns))
        names = list(seen)
        per_name = [
            tuple(
                b.columns[name] if name in b.columns else np.full(b.rows, None, object)
                for b in batches
            )
            for name in names
        ]
    fields, arrays = [], []
    for name, parts in zip(names, per_name, strict=True):
        values = stacked[name] if name in stacked else np.concatenate(parts)
        if values.dtype.kind == "f":
            array = pa.array(values, type=pa.float64(), mask=np.isnan(values))  # NaN: missing
        else:
            array = pa.array(values.tolist(), type=pa.string())
        fields.append(pa.field(name, array.type))
        arrays.append(array)
    return pa.StructArray.from_arrays(arrays, fields=fields)


def table(entries: list[Entry]) -> Any:
    """The pyarrow Table of every row of `entries`, in the prediction log's layout."""
    import numpy as np
    import pyarrow as pa

    fields = list(zip(*entries, strict=True))  # one tuple per field of the entries
    batches: list[Batch] = list(fields[14])
    counts = [b.rows for b in batches]
    total = sum(counts)
    spread = total != len(entries)  # some entries hold several rows
    index = pa.array(np.repeat(np.arange(len(entries)), counts)) if spread else None

    def each(position: int, kind: Any) -> Any:
        values = pa.array(fields[position], type=kind)
        return values.take(index) if index is not None else values

    times = np.array(fields[0], dtype=np.int64) // 1000
    rows = (
        np.concatenate([np.arange(n, dtype=np.int64) for n in counts])
        if spread
        else np.zeros(total, dtype=np.int64)
    )
    predictions: list[str | None] = []
    for prediction, n in zip(fields[11], counts, strict=True):
        if prediction is None:
            predictions.extend([None] * n)
        else:
            predictions.extend(None if label is None else str(label) for label in prediction.labels)
    time = pa.array(times, type=pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "time": time.take(index) if index is not None else time,
            "request_id": each(1, pa.string()),
            "row": pa.array(rows),
            "model": each(2, pa.string()),
            "version": each(3, pa.string()),
            "role": each(4, pa.string()),
            "served": each(5, pa.bool_()),
            "strategy": each(6, pa.string()),
            "weight": each(7, pa.float64()),
            "key": each(8, pa.string()),
            "route": each(9, pa.string()),
            "latency_ms": each(10, pa.float64()),
            "prediction": pa.array(predictions, type=pa.string()),
            "score": pa.array(_scores(entries, counts), type=pa.float64()),
            "error": each(13, pa.string()),
            "client_request_id": each(15, pa.string()),
            "features": _features(batches),
        }
    )
