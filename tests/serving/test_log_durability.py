"""What the gateway promises for its prediction log: a killed gateway loses no answer,
a full disk is never answered 200, and no request can blind the log for the next.

The first two run `mlgate serve` on 127.0.0.1 in a process of its own.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlgate.serving.batch import from_rows
from mlgate.serving.request_ids import Caller
from mlgate.state.convert import read_status
from mlgate.state.predlog import read_log

pytestmark = pytest.mark.anyio

REQUESTS, KILL_AT = 300, 150


def _logged(logs: str) -> dict[str, int]:
    """Rows in the prediction log, by request id."""
    found = read_log(logs, "predictions", "SELECT request_id, count(*) AS n FROM log GROUP BY 1")
    return dict(zip(found.get("request_id", []), found.get("n", []), strict=True))


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not Path(f"/proc/{pid}").exists()


def test_every_answer_of_a_killed_gateway_is_in_the_log_after_restart(
    server_for: Any, project: Any, registered: Any
) -> None:
    server = server_for()
    row = {"instances": registered.lists(slice(0, 1))}
    answered: list[str] = []
    sent = 0
    lock = threading.Lock()
    killed = threading.Event()

    def client() -> None:
        nonlocal sent
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not killed.is_set():
                with lock:
                    if sent >= REQUESTS:
                        return
                    sent += 1
                try:
                    response = http.post("/predict", json=row)
                except httpx.TransportError:  # the gateway is gone: no answer, nothing owed
                    return
                if response.status_code == 200:
                    with lock:
                        answered.append(response.headers["x-request-id"])

    deadline = time.monotonic() + 60  # the converter writes its status once it runs
    while (status := read_status(Path(project.logs, "spool"))) is None:
        assert time.monotonic() < deadline, "the log converter wrote no status"
        time.sleep(0.1)
    converter = int(status["pid"])
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        clients = [pool.submit(client) for _ in range(4)]
        deadline = time.monotonic() + 60
        while len(answered) < KILL_AT:  # mid-way, with requests in flight
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.001)
        os.kill(server.process.pid, signal.SIGKILL)
        killed.set()
        server.process.wait(timeout=10)
        for done in clients:
            done.result()
    assert KILL_AT <= len(answered) < REQUESTS

    # The restarted gateway converts what the killed one spooled (so does the converter
    # the killed one left behind, which then exits).
    restarted = server_for()
    deadline = time.monotonic() + 60
    while not set(answered) <= set(logged := _logged(project.logs)):
        assert time.monotonic() < deadline, f"{len(set(answered) - set(logged))} answers missing"
        time.sleep(0.2)
    assert all(logged[request_id] == 1 for request_id in answered)  # each once
    assert _gone(converter, 60), "the killed gateway's converter did not exit"
    assert restarted.stop() == 0, restarted.log()


def _metric(metrics: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_full_log_disk_refuses_answers_turns_unready_and_recovers(
    server_for: Any,
    project: Any,
    registered: Any,
    small_disk: Callable[[int], Path],
    fill_disk: Callable[[Path], Path],
) -> None:
    disk = small_disk(2 * 1024 * 1024)
    server = server_for(env={"MLGATE_LOG_PATH": str(disk), "MLGATE_LOG_GRACE": "1"})
    row = {"instances": registered.lists(slice(0, 1))}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        before = [client.post("/predict", json=row) for _ in range(20)]
        assert {r.status_code for r in before} == {200}
        filler = fill_disk(disk)
        # What still fits in the spool file's last page is taken (and logged); then no more.
        for _ in range(50):
            response = client.post("/predict", json=row)
            if response.status_code != 200:
                break
            before.append(response)
        refused = [response] + [client.post("/predict", json=row) for _ in range(4)]
        label = {"request_id": before[0].headers["x-request-id"], "label": 1}
        unlabelled = client.post("/feedback", json=label)
        time.sleep(1.5)  # past the grace
        ready = client.get("/v2/health/ready")
        metrics = client.get("/metrics").text
        time.sleep(1.5)  # the converter tried to store what it had meanwhile
        leftovers = list(disk.rglob("*.tmp"))

        filler.unlink()  # space comes back
        deadline = time.monotonic() + 30
        while (again := client.get("/v2/health/ready")).status_code != 200:
            assert time.monotonic() < deadline, again.text
            time.sleep(0.2)
        after = [client.post("/predict", json=row) for _ in range(20)]
        relabelled = client.post("/feedback", json=label)

    for response in refused:
        assert response.status_code == 503
        assert response.json() == {
            # No path: a client is not told where the gateway keeps its files.
            "error": "the predictions log cannot be written (No space left on device), so the "
            "answer was not sent",
            "detail": {
                "code": "LogUnavailable",
                "fix": "Free space on the spool's disk, or point MLGATE_SPOOL_PATH at one with "
                "room; the gateway answers again as soon as its records can be written.",
            },
        }
    assert unlabelled.status_code == 503  # never a silent "accepted"
    assert "so the labels were not taken" in unlabelled.json()["error"]
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert body["error"].startswith(
        "the prediction log cannot be written: predictions: No space left on device for "
    )
    assert body["log"]["spool"]["predictions"]["failures"] >= 5
    assert _metric(metrics, "mlgate_log_write_failures_total", kind="predictions") >= 5
    assert _metric(metrics, "mlgate_log_write_failures_total", kind="feedback") == 1
    assert _metric(metrics, "mlgate_log_ready") == 0
    assert (
        _metric(
            metrics,
            "mlgate_log_last_error_info",
            kind="predictions",
            stage="spool",
            error="No space left on device",
        )
        > 0
    )
    assert leftovers == []  # no temporary file keeps the disk full
    assert {r.status_code for r in after} == {200}
    assert relabelled.json() == {"accepted": 1, "unknown": 0, "duplicate": 0}

    assert server.stop() == 0, server.log()
    logged = _logged(str(disk))
    assert set(logged) == {r.headers["x-request-id"] for r in before + after}
    assert "Traceback" not in server.log(), server.log()


async def test_a_huge_routing_key_does_not_blind_the_log(
    kit: Any, project: Any, registered: Any
) -> None:
    gateway = kit.make_gateway(project)
    rows = registered.lists()
    many = (rows * (10_000 // len(rows) + 1))[:10_000]
    async with kit.running(gateway) as s:
        # Over HTTP the header is refused before anything is read or logged ...
        refused = await s.client.post(
            "/predict", json={"instances": many}, headers={"x-mlgate-key": "k" * 250_000}
        )
        # ... and a caller of the gateway itself gets its key cut to 1,024 characters.
        batch = from_rows(gateway.routing.champion, many, limit=10_000)
        served = await gateway.serve(batch, route="predict", caller=Caller(key="k" * 250_000))
        ids = []
        for _ in range(100):
            response = await s.client.post("/predict", json={"instances": rows[:1]})
            assert response.status_code == 200
            ids.append(response.headers["x-request-id"])
        gateway.flush_logs()
    assert refused.status_code == 400
    found = read_log(
        project.logs,
        "predictions",
        "SELECT request_id, count(*) AS n, max(length(key)) AS longest FROM log GROUP BY 1",
    )
    counts = dict(zip(found["request_id"], found["n"], strict=True))
    assert counts == {served.request_id: 10_000, **dict.fromkeys(ids, 1)}
    assert found["longest"].max() == 1024
    assert gateway.converter.status["predictions"]["quarantined"] == 0
