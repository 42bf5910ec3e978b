"""The input checks take time in proportion to the body, whatever its shape.

A body's bytes are decoded and checked by each protocol's parser: a CSV header,
MLflow's dataframe_split, records, columns, V2 tensors and /predict rows, with
adversarial shapes (thousands of names, long names, a repeated name first or last,
names the model does not know). Each is timed at n and at 8n names: a check that is
linear takes about 8 times as long, a quadratic one 64 times. The test fails past
32 times (a slack for a shared machine), measured in CPU time of the thread as the
best of a few runs, and measured again before it fails.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mlgate.errors import InputError
from mlgate.serving.batch import from_rows
from mlgate.serving.body import Raw, decode
from mlgate.serving.protocols.mlflow import parse_mlflow
from mlgate.serving.protocols.v2 import parse_v2

#: Names at the small size; the large one has 8 times as many.
N = 1000
#: Most a check's time may grow from n to 8n names: 8 times for a linear check, and four
#: times that for a machine shared with other work (a quadratic one grows 64 times).
GROWTH = 32.0
LIMIT = 10_000


@pytest.fixture(scope="module")
def model(kit: Any, module_project: Any) -> Any:
    return kit.make_gateway(module_project).routing.champion


def _names(count: int, length: int, repeat: str, known: list[str]) -> list[str]:
    """`count` column names of about `length` characters; with `repeat`, one name comes
    twice (the first two, or the last two); `known` names lead when given."""
    names = [*known, *(str(i).rjust(length, "x") for i in range(count))][:count]
    if repeat == "first":
        names[1] = names[0]
    elif repeat == "last":
        names[-1] = names[-2]
    return names


def _body(protocol: str, names: list[str]) -> tuple[Raw, Callable[[Any, Any], Any]]:
    """The raw body a client would send with these names, and the parser it goes to."""
    count = len(names)
    if protocol == "csv":
        text = ",".join(names) + "\n" + ",".join(["1"] * count) + "\n"
        return Raw(text.encode(), csv=True), _mlflow
    if protocol == "dataframe_split":
        body: Any = {"dataframe_split": {"columns": names, "data": [[1] * count, [2] * count]}}
        parse = _mlflow
    elif protocol == "dataframe_records":
        body = {"dataframe_records": [dict.fromkeys(names, 1), dict.fromkeys(names, 2)]}
        parse = _mlflow
    elif protocol == "inputs":
        body = {"inputs": {name: [1, 2] for name in names}}
        parse = _mlflow
    elif protocol == "v2":
        tensors = [{"name": n, "shape": [2], "datatype": "FP64", "data": [1, 2]} for n in names]
        body = {"inputs": tensors}
        parse = _v2
    else:
        body = {"instances": [[1] * count, [2] * count]}
        parse = _plain
    return Raw(orjson.dumps(body)), parse


def _mlflow(model: Any, body: Any) -> Any:
    return parse_mlflow(model, body, limit=LIMIT)


def _v2(model: Any, body: Any) -> Any:
    return parse_v2(model, body, limit=LIMIT)


def _plain(model: Any, body: Any) -> Any:
    return from_rows(model, body["instances"], limit=LIMIT)


def _once(model: Any, raw: Raw, parse: Callable[[Any, Any], Any]) -> float:
    """CPU seconds of this thread to decode and check `raw` (refused or not): the time
    other processes take the CPU for is not counted."""
    started = time.thread_time()
    with contextlib.suppress(InputError):
        parse(model, decode(raw))
    return time.thread_time() - started


def _growth(model: Any, protocol: str, length: int, repeat: str, known: bool, runs: int) -> float:
    """How many times as long the checks take for 8n names as for n: the best of `runs`
    runs of each, taken in turns (a busy spell of the machine slows both sizes alike),
    with the garbage collector off (its passes come when they come)."""
    features = list(model.features) if known else []
    small = _body(protocol, _names(N, length, repeat, features))
    large = _body(protocol, _names(8 * N, length, repeat, features))
    best_small = best_large = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            best_small = min(best_small, _once(model, *small))
            best_large = min(best_large, _once(model, *large))
    finally:
        gc.enable()
    # A floor of a millisecond: below it, the timer and the cache say more than the check.
    return best_large / max(best_small, 1e-3)


@given(
    protocol=st.sampled_from(
        ["csv", "dataframe_split", "dataframe_records", "inputs", "v2", "instances"]
    ),
    length=st.sampled_from([1, 8, 64, 200]),
    repeat=st.sampled_from(["none", "first", "last"]),
    known=st.booleans(),
)
@settings(
    max_examples=24,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.generate],  # no shrinking: every shape is as small as the next
)
def test_checks_grow_linearly_with_the_names_sent(
    model: Any, protocol: str, length: int, repeat: str, known: bool
) -> None:
    growth = _growth(model, protocol, length, repeat, known, runs=3)
    if growth > GROWTH:  # measured again, longer, before it counts: the machine is shared
        growth = _growth(model, protocol, length, repeat, known, runs=7)
    assert growth <= GROWTH, (
        f"{protocol} with {8 * N} names of {length} characters (repeat: {repeat}) took "
        f"{growth:.0f} times as long as with {N}"
    )
