"""Spool records into the log's rows: the quick paths and the general one agree."""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import pytest

from mlgate.state.layout import feedback_table, prediction_table

T0 = 1_780_000_000_000_000_000


def _b64(values: Any) -> str:
    return base64.b64encode(np.asarray(values, dtype=np.float64).tobytes()).decode()


def _record(
    request_id: str,
    numbers: dict[str, list[float]],
    text: dict[str, list[str]] | None = None,
    *,
    labels: list[Any] | None = None,
    probabilities: list[list[float]] | None = None,
    regression: bool = False,
) -> dict[str, Any]:
    names = list(numbers) + list(text or {})
    rows = len(next(iter(numbers.values())))
    return {
        "t": T0,
        "id": request_id,
        "m": "m",
        "v": "1",
        "r": "champion",
        "s": True,
        "st": "none",
        "w": 0.0,
        "k": None,
        "rt": "predict",
        "ms": 1.0,
        "e": None,
        "c": None,
        "n": rows,
        "p": labels,
        "pb": None if probabilities is None else _b64(probabilities),
        "pc": None if probabilities is None else len(probabilities[0]),
        "reg": regression,
        "f": names,
        "fx": None if not text else list(numbers),
        "fb": _b64([numbers[n] for n in numbers]),
        "ft": text,
    }


def _rows(table: Any) -> list[dict[str, Any]]:
    return [
        {"id": r["request_id"], "row": r["row"], "p": r["prediction"], "score": r["score"]}
        | r["features"]
        for r in table.to_pylist()
    ]


def test_one_row_requests_read_as_the_general_path_reads_them() -> None:
    single = [
        _record(f"r{i}", {"a": [i], "b": [math.nan]}, labels=[i % 2], probabilities=[[0.2, 0.8]])
        for i in range(3)
    ]
    quick = _rows(prediction_table(single))
    # One more request of two rows takes every record down the general path.
    two = _record("r3", {"a": [3, 4], "b": [1, 2]}, labels=[0, 1], probabilities=[[0.9, 0.1]] * 2)
    general = _rows(prediction_table([*single, two]))
    assert quick == general[:3]
    assert quick[1] == {"id": "r1", "row": 0, "p": "1", "score": 0.8, "a": 1.0, "b": None}
    assert general[3:] == [
        {"id": "r3", "row": 0, "p": "0", "score": 0.9, "a": 3.0, "b": 1.0},
        {"id": "r3", "row": 1, "p": "1", "score": 0.9, "a": 4.0, "b": 2.0},
    ]


def test_versions_with_other_features_leave_the_others_null() -> None:
    first = _record("x", {"a": [1.5]}, {"colour": ["red"]}, labels=["yes"])
    second = _record("y", {"b": [2.5]}, labels=[3.25], regression=True)
    failed = _record("z", {"a": [0.0]})  # a failed prediction: no labels
    rows = _rows(prediction_table([first, second, failed]))
    assert rows == [
        {"id": "x", "row": 0, "p": "yes", "score": None, "a": 1.5, "colour": "red", "b": None},
        {"id": "y", "row": 0, "p": "3.25", "score": 3.25, "a": None, "colour": None, "b": 2.5},
        {"id": "z", "row": 0, "p": None, "score": None, "a": 0.0, "colour": None, "b": None},
    ]


def test_a_record_whose_labels_do_not_match_its_rows_is_refused() -> None:
    bad = _record("bad", {"a": [1.0, 2.0]}, labels=[1])
    with pytest.raises(ValueError, match=r"^request 'bad': 2 rows but 1 labels$"):
        prediction_table([bad])


def test_feedback_records_keep_the_log_s_columns() -> None:
    table = feedback_table([{"t": T0, "id": "a", "row": 2, "label": 1, "m": "m"}])
    assert table.schema.names == ["time", "request_id", "row", "label", "model"]
    assert table.to_pylist()[0]["label"] == "1"
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"


def test_each_row_keeps_its_replica_s_arm_and_older_records_have_none() -> None:
    """A record spooled before replicas named their arm (no `a` key) reads as null."""
    armed = _record("a", {"x": [1.0, 2.0]}, labels=[0, 1]) | {"a": "7d9f8c6b5"}
    older = _record("b", {"x": [3.0]}, labels=[1])
    arms = [(r["request_id"], r["arm"]) for r in prediction_table([armed, older]).to_pylist()]
    assert arms == [("a", "7d9f8c6b5"), ("a", "7d9f8c6b5"), ("b", None)]
