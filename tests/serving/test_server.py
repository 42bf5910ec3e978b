"""End to end: `python -m mlgate serve` on 127.0.0.1, stopped with SIGTERM.

A graceful stop finishes in-flight work and flushes the prediction log: every
answered request is on disk once the process has exited.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlgate.state.convert import read_status
from mlgate.state.predlog import read_log

REQUESTS = 60


def _metric_sum(metrics: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def test_sigterm_exits_cleanly_and_loses_nothing(
    server_for: Any, project: Any, registered: Any
) -> None:
    server = server_for()
    rows = registered.lists()
    answered: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(REQUESTS):
            request_id = f"e2e-{i}"
            chunk = rows[i % 100 : i % 100 + 2]
            response = client.post(
                "/predict", json={"instances": chunk}, headers={"x-request-id": request_id}
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-mlgate-version"] == "1"
            answered[response.headers["x-request-id"]] = request_id
    # Stop at once: the writer flushes every second, so some records are still in memory.
    started = time.monotonic()
    assert server.stop() == 0, server.log()
    assert time.monotonic() - started < 30
    assert "Traceback" not in server.log(), server.log()

    log = read_log(
        project.logs,
        "predictions",
        "SELECT request_id, any_value(client_request_id) AS client, count(*) AS n, "
        "any_value(version) AS version FROM log WHERE role = 'champion' GROUP BY request_id",
    )
    assert set(log["request_id"]) == set(answered)
    assert dict(zip(log["request_id"], log["client"], strict=True)) == answered
    assert set(log["n"]) == {2}
    assert set(log["version"]) == {"1"}


def test_two_workers_answer_and_metrics_add_up_across_them(
    server_for: Any, project: Any, registered: Any, tmp_path: Path
) -> None:
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    server = server_for("--workers", "2", env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc)})
    rows = {"instances": registered.lists(slice(0, 1))}

    def one(i: int) -> int:
        # A new connection each time, so the kernel hands them to either worker.
        with httpx.Client(base_url=server.url, timeout=10) as client:
            response = client.post("/predict", json=rows, headers={"x-request-id": f"w-{i}"})
            return response.status_code

    # Ready means one worker answers; the other may still be importing. Send batches
    # (bounded in count and time) until both have counted a request.
    sent, writers = 0, set()
    deadline = time.monotonic() + 90
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        while len(writers) < 2 and time.monotonic() < deadline and sent < 2000:
            assert set(pool.map(one, range(sent, sent + 16))) == {200}
            sent += 16
            writers = {
                m.group(1)
                for f in multiproc.iterdir()
                if (m := re.fullmatch(r"counter_(\d+)\.db", f.name))
            }
            time.sleep(0.05)
    assert len(writers) == 2, f"only {writers} answered {sent} requests"

    # Each worker counted its own; /metrics (from either) shows the sum of both, once
    # each has added its last answers (a worker does so a few times a second).
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=server.url, timeout=10) as client:
        metrics = client.get("/metrics").text
        while _metric_sum(metrics, "mlgate_requests_total") < sent:
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
            metrics = client.get("/metrics").text
    assert _metric_sum(metrics, "mlgate_requests_total") == sent
    assert _metric_sum(metrics, "mlgate_request_latency_seconds_count") == sent
    assert "mlgate_rollout_weight" in metrics

    assert server.stop() == 0, server.log()
    segments = list(Path(project.logs, "predictions").glob("date=*/*.parquet"))
    pids = {segment.name.split("-")[1] for segment in segments}
    assert pids == writers, "each worker flushed its own log on the way out"
    log = read_log(project.logs, "predictions", "SELECT count(DISTINCT request_id) AS n FROM log")
    assert log["n"][0] == sent


def test_serving_needs_no_data_files(project: Any) -> None:
    """A gateway serves what is registered: the training and test files may be elsewhere."""
    import shutil

    from mlgate.serving.server import build_gateway

    shutil.rmtree(project.base_dir / "data")
    gateway = build_gateway(project.config)
    assert gateway.describe()["champion"] == "1"


def _converter(project: Any) -> int:
    """The process id of the server's log converter, from its status file."""
    deadline = time.monotonic() + 60
    while (status := read_status(Path(project.logs, "spool"))) is None:
        assert time.monotonic() < deadline, "the log converter wrote no status"
        time.sleep(0.1)
    return int(status["pid"])


def _workers(pid: int, project: Any) -> set[int]:
    """The worker processes of the server `pid`: its children but the log converter."""
    return _children(pid) - {_converter(project)}


def _children(pid: int) -> set[int]:
    """The processes the server `pid` started (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid and b"spawn_main" in command:
                found.add(int(entry.name))
    return found


def test_a_worker_that_dies_is_replaced_and_the_others_keep_serving(
    server_for: Any, registered: Any, project: Any
) -> None:
    import os
    import signal

    server = server_for("--workers", "2")
    rows = {"instances": registered.lists(slice(0, 1))}
    before = _workers(server.process.pid, project)
    assert len(before) == 2
    os.kill(min(before), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while len(_workers(server.process.pid, project) - before) < 1:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    # Every new connection is answered (the kernel spreads them over the workers alive).
    for _ in range(40):
        while True:
            try:
                response = httpx.post(f"{server.url}/predict", json=rows, timeout=10)
                break
            except httpx.TransportError:  # the new worker not listening yet, or the dead one
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.2)
        assert response.status_code == 200
    assert "exited with -9; starting another" in server.log()
    assert server.stop() == 0, server.log()


def test_workers_that_keep_dying_stop_the_server_with_an_error() -> None:
    import sys

    from mlgate.errors import ServeError
    from mlgate.serving.server import _supervise

    started = time.monotonic()
    with pytest.raises(ServeError) as stopped:
        _supervise(2, (3,), target=sys.exit)  # each worker exits at once with code 3
    assert "the last with exit code 3" in str(stopped.value)
    assert time.monotonic() - started < 30


def test_workers_stop_when_their_supervisor_is_killed(server_for: Any, project: Any) -> None:
    import os
    import signal

    server = server_for("--workers", "2", "--log-level", "info")
    converter = _converter(project)
    workers = _workers(server.process.pid, project)
    assert len(workers) == 2
    deadline = time.monotonic() + 90  # ready is one worker up; the other may still load
    while server.log().count("Application startup complete") < 2:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    assert "starting 2 workers on http://127.0.0.1:" in server.log()
    assert server.log().count("serving credit-risk: champion 1") == 2
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in {*workers, converter}):
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    # Stopped gracefully: each closed its spool on the way out, and the converter, once
    # they had, made segments of everything and stopped too.
    assert server.log().count("Application shutdown complete") == 2, server.log()
    assert "the gateway is gone; converting what it left" in server.log()
    assert not list(Path(project.logs, "spool", "predictions").glob("*.jsonl"))


def test_two_workers_that_cannot_load_refuse_once_and_nothing_listens(
    project: Any, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from serving.conftest import free_port

    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
    environment["MLGATE_REGISTRY_URI"] = f"sqlite:///{tmp_path / 'empty.db'}"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlgate", "serve", "-c", str(project.config)),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "2"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=project.base_dir,
    )
    # Both workers load side by side; each finds no registry, and the supervisor says so
    # once. A gateway reads a registry, never makes one.
    output, _ = server.communicate(timeout=120)
    assert server.returncode == 2, output
    assert output.count("no model registry at sqlite:///") == 1, output
    assert "empty.db: the file does not exist" in output, output
    assert not (tmp_path / "empty.db").exists()
    assert "Traceback" not in output, output
    assert "Application startup complete" not in output, output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=2)
