"""One request never holds up the others: a large, adversarial body is refused while the
gateway keeps answering health checks (a real uvicorn on 127.0.0.1).

A 440 KB CSV of 50,000 header names took 46 s to refuse while the duplicate check
counted every name against every other, on the event loop, and a readiness check
sent meanwhile waited as long. Now the checks are linear and large bodies are
read off the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

#: The most a readiness check may wait while the large request is being refused; far
#: above what it takes (milliseconds), far below what a stall took (tens of seconds).
PATIENCE = 5.0
NAMES = 50_000


@pytest.fixture(scope="module")
def url(kit: Any, module_project: Any) -> Iterator[str]:
    with kit.in_thread(kit.make_gateway(module_project)) as served:
        yield served


def _while_sending(url: str, path: str, content: bytes, kind: str) -> tuple[httpx.Response, float]:
    """Send one large request; meanwhile check readiness every 50 ms. Its answer, and the
    longest a readiness check waited."""
    answer: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(timeout=120) as client:
            answer.append(client.post(url + path, content=content, headers={"content-type": kind}))

    sender = threading.Thread(target=send)
    longest = 0.0
    with httpx.Client(timeout=60) as probe:
        probe.get(url + "/v2/health/ready")  # the connection is open before the race starts
        sender.start()
        while sender.is_alive():
            started = time.perf_counter()
            assert probe.get(url + "/v2/health/ready").status_code == 200
            longest = max(longest, time.perf_counter() - started)
            time.sleep(0.05)
    sender.join()
    return answer[0], longest


def test_a_csv_of_50_000_names_is_refused_without_a_stall(url: str) -> None:
    header = ",".join(f"c{i}" for i in range(NAMES))
    content = (header + "\n" + ",".join(["1"] * NAMES) + "\n").encode()
    assert len(content) > 400_000
    response, longest = _while_sending(url, "/invocations", content, "text/csv")
    assert response.status_code == 400
    assert response.json()["detail"] == {"code": "bad_csv"}
    assert longest < PATIENCE, f"a readiness check waited {longest:.1f} s"


def test_a_repeated_name_among_50_000_columns_is_refused_without_a_stall(url: str) -> None:
    columns = [f"c{i}" for i in range(NAMES)] + ["c0"]
    body = {"dataframe_split": {"columns": columns, "data": [[1] * len(columns)]}}
    response, longest = _while_sending(url, "/invocations", orjson.dumps(body), "application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "BAD_REQUEST",
        "message": "dataframe_split.columns names 'c0' more than once",
        "detail": {"code": "wrong_features", "feature": "c0"},
    }
    assert longest < PATIENCE, f"a readiness check waited {longest:.1f} s"


def test_a_body_of_10_000_rows_is_answered_without_a_stall(url: str, registered: Any) -> None:
    rows = (registered.lists() * 100)[:10_000]
    response, longest = _while_sending(
        url, "/predict", orjson.dumps({"instances": rows}), "application/json"
    )
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 10_000
    assert longest < PATIENCE, f"a readiness check waited {longest:.1f} s"
