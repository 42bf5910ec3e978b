"""Helpers of the rollout tests: a registered project, synthetic logs, gateway processes.

A plain module rather than a conftest so that tests/cli can use it too. The
registered project (champion version 1, challenger version 2, both small
forests trained on the example data) is built once per session; every test
works on a copy of its config and databases (the artifacts stay where the
registry recorded them), so promotions and rollbacks never leak between tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

if TYPE_CHECKING:
    from mlgate.state.store import StateStore

NAME = "credit-risk"
CHAMPION, CHALLENGER = "1", "2"
TOKEN = "rollout-admin-token"

#: Rollout settings every copy starts with; tests override what they test.
ROLLOUT: dict[str, Any] = {
    "strategy": "canary",
    "steps": [10, 50, 100],
    "interval": "1s",
    "analysis": {"min_requests": 20, "min_labels": 20},
}


def clean_environment(patch: pytest.MonkeyPatch) -> None:
    """No MLGATE_* (or MLflow) variable of the machine may steer a test."""
    for variable in list(os.environ):
        if variable.startswith("MLGATE_") or variable == "MLFLOW_TRACKING_URI":
            patch.delenv(variable)


def registered_template(factory: pytest.TempPathFactory) -> Path:
    """The folder of the project with champion and challenger, built once per session."""
    folder = factory.getbasetemp() / "rollout-registered"
    if (folder / "ready").exists():
        return folder
    from mlgate.config.loader import load_config
    from mlgate.road.run import run
    from mlgate.scaffold.example import write_example

    shutil.rmtree(folder, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        config = write_example(folder, rows=600)
        doc = yaml.safe_load(config.read_text(encoding="utf-8"))
        doc["model"]["params"] = {"n_estimators": 8, "max_depth": 6}
        doc["model"]["cv_folds"] = 0
        doc["rollout"] = ROLLOUT
        config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        first = run(load_config(config), register=True)
        assert first.registration is not None
        assert first.registration.alias == "champion"
        (folder / "champion-only").mkdir()
        for name in ("mlflow.db", "state.db"):
            shutil.copy2(folder / ".mlgate" / name, folder / "champion-only" / name)
        second = run(load_config(config), register=True)
        assert second.registration is not None
        assert second.registration.alias == "challenger"
    (folder / "ready").touch()
    return folder


def copy_project(template: Path, target: Path, *, champion_only: bool = False) -> Path:
    """A private copy of the registered project in `target`; the path of its mlgate.yaml.

    `champion_only`: the registry as it was before the challenger was registered.
    """
    target.mkdir(parents=True)
    for name in ("mlgate.yaml", "schema.yaml"):
        shutil.copy2(template / name, target / name)
    shutil.copytree(template / "data", target / "data")
    (target / ".mlgate").mkdir()
    databases = template / ("champion-only" if champion_only else ".mlgate")
    for name in ("mlflow.db", "state.db"):
        shutil.copy2(databases / name, target / ".mlgate" / name)
    return target / "mlgate.yaml"


def set_rollout(config: Path, **fields: Any) -> Path:
    """Change the `rollout:` section of the config in place (nested `analysis` merged)."""
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    section = dict(doc.get("rollout") or {})
    analysis = {**section.get("analysis", {}), **fields.pop("analysis", {})}
    section |= fields
    section["analysis"] = analysis
    doc["rollout"] = section
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


# --- synthetic logs, in the layout the gateway writes ------------------------------------


def prediction(
    request_id: str,
    role: str,
    version: str,
    label: str | None,
    *,
    at: datetime,
    row: int = 0,
    error: str | None = None,
    latency_ms: float = 5.0,
    model: str = NAME,
) -> dict[str, Any]:
    """One prediction-log record as `Gateway._log` writes it."""
    return {
        "time": at,
        "request_id": request_id,
        "row": row,
        "model": model,
        "version": version,
        "role": role,
        "served": role in ("champion", "challenger") and error is None,
        "strategy": "canary",
        "weight": 10.0,
        "key": None,
        "route": "predict",
        "latency_ms": latency_ms,
        "prediction": label,
        "score": None if label is None else 0.9,
        "error": error,
        "features": {"age": 40, "region": "north"},
    }


def label(
    request_id: str, value: str, *, at: datetime, row: int = 0, model: str = NAME
) -> dict[str, Any]:
    """One feedback record as `Gateway.record_feedback` writes it."""
    return {"time": at, "request_id": request_id, "row": row, "label": value, "model": model}


def write(root: str | Path, kind: str, records: list[dict[str, Any]]) -> None:
    """Write `records` as one Parquet segment of `kind` under `root`."""
    import uuid

    import pyarrow as pa

    from mlgate.state.predlog import write_segment

    day = records[0]["time"].strftime("%Y-%m-%d")
    name = f"{uuid.uuid4().hex}.parquet"
    assert write_segment(str(root), kind, pa.Table.from_pylist(records), day=day, name=name)


def canary_traffic(
    n: int,
    *,
    at: datetime,
    prefix: str = "r",
    challenger_share: float = 0.5,
    errors: int = 0,
    disagree: int = 0,
    champion_ms: float = 5.0,
    challenger_ms: float = 5.0,
) -> list[dict[str, Any]]:
    """`n` requests of a canary: a share to the challenger (with the champion's reference
    answer), the rest to the champion. The first `errors` challenger requests fail and
    fall back to the champion; the next `disagree` get a different answer."""
    records: list[dict[str, Any]] = []
    to_challenger = round(n * challenger_share)
    for i in range(n):
        rid = f"{prefix}-{i}"
        if i >= to_challenger:
            records.append(
                prediction(rid, "champion", CHAMPION, "0", at=at, latency_ms=champion_ms)
            )
            continue
        if i < errors:
            records.append(
                prediction(rid, "challenger", CHALLENGER, None, at=at, error="ValueError: boom")
            )
            records.append(
                prediction(rid, "champion", CHAMPION, "0", at=at, latency_ms=champion_ms)
            )
            continue
        answer = "1" if i < errors + disagree else "0"
        records.append(
            prediction(rid, "challenger", CHALLENGER, answer, at=at, latency_ms=challenger_ms)
        )
        records.append(prediction(rid, "reference", CHAMPION, "0", at=at, latency_ms=champion_ms))
    return records


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def race_for_an_expired_lease(store: StateStore, name: str, contenders: int = 8) -> list[str]:
    """`contenders` holders try, all at once, to take a lease that has just run out."""
    from mlgate.state.rollout import acquire_lease

    assert acquire_lease(store, name, "old", ttl=0.01)
    time.sleep(0.05)
    barrier = threading.Barrier(contenders)
    winners: list[str] = []

    def take(holder: str) -> None:
        barrier.wait(timeout=10)
        if acquire_lease(store, name, holder, ttl=60):
            winners.append(holder)

    threads = [threading.Thread(target=take, args=(f"h{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return winners


# --- `mlgate serve` in a subprocess ----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    """`python -m mlgate serve` running on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str
    output: Path

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.url}{path}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self) -> None:
        """SIGTERM and a bounded wait; SIGKILL if that is not enough."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing, as a crash."""
        self.process.kill()
        self.process.wait(timeout=10)


def start_gateway(
    config: Path, *, env: dict[str, str] | None = None, timeout: float = 90.0, name: str = "gw"
) -> Gateway:
    """Start `python -m mlgate serve` for the config's project and wait until it is ready."""
    (gateway,) = start_gateways(config, [name], env=env, timeout=timeout)
    return gateway


def start_gateways(
    config: Path, names: list[str], *, env: dict[str, str] | None = None, timeout: float = 90.0
) -> list[Gateway]:
    """Start one gateway per name at once (they load side by side), then wait for each."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLGATE_") and k != "MLFLOW_TRACKING_URI"
    }
    environment |= {"MLGATE_ADMIN_TOKEN": TOKEN, "MLGATE_POLL_INTERVAL": "0.2"} | (env or {})
    pending = {name: _launch(config, name, environment) for name in names}
    ready: list[Gateway] = []
    try:
        for name in names:
            gateway = pending.pop(name)
            for _attempt in range(3):  # a port taken between free_port() and bind: another
                if _ready(gateway, timeout):
                    break
                gateway.stop()
                if "address already in use" not in gateway.log().lower():
                    raise AssertionError(f"gateway {name} did not become ready:\n{gateway.log()}")
                gateway = _launch(config, name, environment)
            else:
                raise AssertionError(f"gateway {name} found no free port:\n{gateway.log()}")
            ready.append(gateway)
    except BaseException:
        for gateway in [*ready, *pending.values()]:
            gateway.stop()
        raise
    return ready


def _launch(config: Path, name: str, environment: dict[str, str]) -> Gateway:
    port = free_port()
    output = config.parent / f"{name}-{time.time_ns()}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "mlgate", "serve", "-c", str(config)),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=config.parent,
        )
    return Gateway(process, f"http://127.0.0.1:{port}", output)


def _ready(gateway: Gateway, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{gateway.url}/v2/health/ready", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def sample_rows(config: Path, count: int) -> list[dict[str, Any]]:
    """The first `count` rows of the project's test set as JSON objects, label left out."""
    import math

    import pandas as pd

    frame = pd.read_csv(config.parent / "data" / "test.csv").drop(columns=["default"])
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else _plain(v) for k, v in r.items()}
        for r in frame.head(count).to_dict("records")
    ]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
