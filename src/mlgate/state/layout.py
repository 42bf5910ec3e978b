"""The prediction log's layout: spool records in, Parquet tables out.

The gateway writes one JSON line per answer to its spool (`mlgate.state.spool`)
before the answer is sent; the converter (`mlgate.state.convert`) turns those
lines into Parquet segments with the tables built here. A prediction record
holds a whole request, so what is the same for all its rows (ids, the routing
key, the version, the error) is written once, and its rows are columns:

- `t`: the time, in nanoseconds since the epoch;
- `id`, `c`: the request id the gateway issued; the client's own x-request-id;
- `m`, `v`, `r`, `s`: model, version, role, served (answered a user, no error);
- `st`, `w`, `k`, `rt`: rollout strategy, challenger weight, routing key, route;
- `ms`, `e`: latency in milliseconds; the error of a failed prediction;
- `a`: the replica's arm of a rollout another controller runs (MLGATE_ARM), or null;
- `n`: its rows; `rn` (optional), their numbers when they are not 0 to n-1 (a batch
  job's rows, numbered by their place in its input);
- `p`, `pb`, `pc`, `reg`: the labels (or values); the probabilities, base64 float64
  [rows, `pc`]; whether the model is a regressor (its value is its score);
- `f`, `fx`, `fb`, `ft`: the feature names in order; the numeric ones (null: all),
  whose values are one base64 float64 block [len(fx), rows] in `fb`; the text ones'
  values in `ft`, by name.

A feedback record is one label: `t`, `id`, `row`, `label`, `m`.

In the tables, a request's own values are dictionary-encoded: each is held once
per request, its rows point at it. A routing key of any length is not copied
onto each of 10,000 rows (in memory, then in a Parquet dictionary page), so one
request can no longer make a table too large to build.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

__all__ = ["BUILDERS", "feedback_table", "prediction_table"]

#: The most characters of a request's own text (key, ids, error) that are logged.
MAX_TEXT = 1024


def _numbers(text: str | None, shape: tuple[int, int]) -> Any:
    import numpy as np

    if text is None:
        return None
    return np.frombuffer(binascii.a2b_base64(text), dtype=np.float64).reshape(shape)


def _per_request(values: list[Any], index: Any, kind: Any) -> Any:
    """One value per request, as a column of one per row: dictionary-encoded, so each
    request's value is held once whatever its number of rows."""
    import pyarrow as pa

    if index is None:
        return pa.array(values, type=kind)
    if kind != pa.string():
        return pa.array(values, type=kind).take(index)
    # Distinct values once (nulls among the indices: Parquet takes no null in a dictionary).
    encoded = pa.array(values, type=pa.string()).dictionary_encode()
    return pa.DictionaryArray.from_arrays(encoded.indices.take(index), encoded.dictionary)


def _joined(texts: list[str]) -> Any:
    """base64 float64 blocks, decoded and put end to end in one array."""
    import numpy as np

    return np.frombuffer(b"".join(map(binascii.a2b_base64, texts)), dtype=np.float64)


def _scores(records: list[dict[str, Any]], total: int) -> Any:
    """Each row's score: the top class probability, a regressor's value, or null."""
    import numpy as np

    first = records[0].get("pc")
    if first and all(r.get("pb") is not None and r.get("pc") == first for r in records):
        # The usual segment: one classifier's answers, all rows' probabilities at once.
        return _joined([r["pb"] for r in records]).reshape(total, first).max(axis=1)
    parts = []
    for r in records:
        rows = r["n"]
        probabilities = _numbers(r.get("pb"), (rows, r.get("pc") or 1))
        if probabilities is not None and probabilities.size:
            parts.append(probabilities.max(axis=1))
        elif r.get("reg") and r.get("p") is not None:
            parts.append(
                np.array([np.nan if v is None else float(v) for v in r["p"]], dtype=np.float64)
            )
        else:
            parts.append(np.full(rows, np.nan))
    return np.concatenate(parts) if parts else np.empty(0)


def _feature_parts(r: dict[str, Any]) -> dict[str, Any]:
    """A record's features: name -> its rows (float64 for numbers, object for text)."""
    import numpy as np

    names: list[str] = r.get("f") or []
    text: dict[str, list[Any]] = r.get("ft") or {}
    numeric: list[str] = names if r.get("fx") is None else r["fx"]
    block = _numbers(r.get("fb"), (len(numeric), r["n"])) if numeric else None
    at = {name: j for j, name in enumerate(numeric)}
    parts: dict[str, Any] = {}
    for name in names:
        if name in text:
            parts[name] = np.array(text[name], dtype=object)
        elif block is not None and name in at:
            parts[name] = block[at[name]]
    return parts


def _features(records: list[dict[str, Any]]) -> Any:
    """The rows' features as one struct column: numbers as float64 (NaN: null), text."""
    import numpy as np
    import pyarrow as pa

    first = records[0]
    layout = (first.get("f"), first.get("fx"), tuple(first.get("ft") or ()))
    same = all((r.get("f"), r.get("fx"), tuple(r.get("ft") or ())) == layout for r in records)
    if same and first.get("f") and not first.get("ft"):  # the usual segment: numbers only
        names = list(first["f"])
        if all(r["n"] == 1 for r in records):  # one row each: the blocks end to end are rows
            whole = _joined([r["fb"] for r in records]).reshape(len(records), len(names)).T
        else:
            blocks = [_numbers(r["fb"], (len(names), r["n"])) for r in records]
            whole = np.concatenate(blocks, axis=1)
        columns = {name: np.ascontiguousarray(whole[j]) for j, name in enumerate(names)}
    else:
        parts = [_feature_parts(r) for r in records]
        seen: dict[str, None] = {}
        for p in parts:
            seen.update(dict.fromkeys(p))
        columns = {}
        for name in seen:
            numeric = all(p[name].dtype.kind == "f" for p in parts if name in p)
            gap: Any = (np.nan, np.float64) if numeric else (None, object)  # another version's
            pieces = [
                p[name] if name in p else np.full(r["n"], gap[0], dtype=gap[1])
                for p, r in zip(parts, records, strict=True)
            ]
            columns[name] = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    fields, arrays = [], []
    for name, values in columns.items():
        if values.dtype.kind == "f":
            array = pa.array(values, type=pa.float64(), mask=np.isnan(values))
        else:
            array = pa.array([_text(v) for v in values.tolist()], type=pa.string())
        fields.append(pa.field(name, array.type))
        arrays.append(array)
    if not fields:
        return pa.nulls(sum(r["n"] for r in records), type=pa.struct([]))
    return pa.StructArray.from_arrays(arrays, fields=fields)


def _text(value: Any) -> str | None:
    """A text feature's value; a number where another version had text, as text."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, str) else str(value)


def _labels(records: list[dict[str, Any]]) -> list[str | None]:
    if all(r["n"] == 1 and r.get("p") is not None for r in records):  # one row each
        return [None if (label := r["p"][0]) is None else str(label) for r in records]
    out: list[str | None] = []
    for r in records:
        labels = r.get("p")
        if labels is None:
            out.extend([None] * r["n"])
        else:
            out.extend(None if label is None else str(label) for label in labels)
    return out


def prediction_table(records: list[dict[str, Any]]) -> Any:
    """The pyarrow Table of every row of `records` (prediction spool records)."""
    import numpy as np
    import pyarrow as pa

    counts = [int(r["n"]) for r in records]
    for r, n in zip(records, counts, strict=True):
        labels = r.get("p")
        if n < 1 or (labels is not None and len(labels) != n):
            raise ValueError(f"request {r.get('id')!r}: {n} rows but {len(labels or [])} labels")
        numbered = r.get("rn")
        if numbered is not None and len(numbered) != n:
            raise ValueError(f"request {r.get('id')!r}: {n} rows but {len(numbered)} row numbers")
    spread = sum(counts) != len(records)  # some requests hold several rows
    index = pa.array(np.repeat(np.arange(len(records), dtype=np.int32), counts)) if spread else None

    def each(key: str, kind: Any) -> Any:
        return _per_request([r.get(key) for r in records], index, kind)

    micros = np.array([r["t"] for r in records], dtype=np.int64) // 1000
    if any(r.get("rn") is not None for r in records):
        row = np.concatenate(
            [
                np.arange(n, dtype=np.int64)
                if r.get("rn") is None
                else np.asarray(r["rn"], dtype=np.int64)
                for r, n in zip(records, counts, strict=True)
            ]
        )
    elif spread:
        row = np.concatenate([np.arange(n, dtype=np.int64) for n in counts])
    else:
        row = np.zeros(len(records), dtype=np.int64)
    scores = _scores(records, sum(counts))
    stamp = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "time": pa.array(micros if index is None else micros[index.to_numpy()], type=stamp),
            "request_id": each("id", pa.string()),
            "row": pa.array(row),
            "model": each("m", pa.string()),
            "version": each("v", pa.string()),
            "role": each("r", pa.string()),
            "served": each("s", pa.bool_()),
            "strategy": each("st", pa.string()),
            "weight": each("w", pa.float64()),
            "key": each("k", pa.string()),
            "route": each("rt", pa.string()),
            "latency_ms": each("ms", pa.float64()),
            "prediction": pa.array(_labels(records), type=pa.string()),
            "score": pa.array(scores, type=pa.float64(), mask=np.isnan(scores)),
            "error": each("e", pa.string()),
            "client_request_id": each("c", pa.string()),
            "arm": each("a", pa.string()),
            "features": _features(records),
        }
    )


def feedback_table(records: list[dict[str, Any]]) -> Any:
    """The pyarrow Table of feedback spool records, one label each."""
    import numpy as np
    import pyarrow as pa

    micros = np.array([r["t"] for r in records], dtype=np.int64) // 1000
    return pa.table(
        {
            "time": pa.array(micros, type=pa.timestamp("us", tz="UTC")),
            "request_id": pa.array([r["id"] for r in records], type=pa.string()),
            "row": pa.array([int(r["row"]) for r in records], type=pa.int64()),
            "label": pa.array([str(r["label"]) for r in records], type=pa.string()),
            "model": pa.array([r["m"] for r in records], type=pa.string()),
        }
    )


#: Each kind of log and how its spool records become a table.
BUILDERS: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "predictions": prediction_table,
    "feedback": feedback_table,
}
