"""A gateway killed mid-rollout resumes it: same step, same weight, then on to the next.

Real `python -m mlgate serve` processes on 127.0.0.1, real traffic, a canary
whose interval is one second; the rollout lives in the project's SQLite state
store, and SIGKILL leaves the old process no chance to tidy up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.project import Project
from mlgate.road.rollouts import start_rollout
from mlgate.state.rollout import RolloutState, get_rollout, rollout_events

from .support import NAME, Gateway, sample_rows, set_rollout, start_gateway


class Traffic:
    """Keyed single-row requests sent to one gateway from a thread, until stopped."""

    def __init__(self, gateway: Gateway, rows: list[dict[str, Any]]) -> None:
        self.gateway, self.rows = gateway, rows
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _send(self) -> None:
        deadline = time.monotonic() + 120  # bounded, whatever the test does
        with httpx.Client(base_url=self.gateway.url, timeout=10) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                row = self.rows[self.sent % len(self.rows)]
                try:
                    answer = client.post(
                        "/predict",
                        json={"instances": [row]},
                        headers={"x-mlgate-key": f"user-{self.sent}"},
                    )
                    if answer.status_code != 200:
                        self.failures.append(f"{answer.status_code}: {answer.text}")
                except httpx.TransportError as e:
                    self.failures.append(type(e).__name__)
                self.sent += 1
                time.sleep(0.01)


def wait_for(
    what: str,
    read: Callable[[], RolloutState],
    until: Callable[[RolloutState], bool],
    timeout: float,
) -> RolloutState:
    deadline = time.monotonic() + timeout
    while True:
        state = read()
        if until(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; state: {state}")
        time.sleep(0.05)


def test_a_killed_gateway_resumes_the_rollout_at_its_step(
    project: Path, gateways: list[Gateway]
) -> None:
    set_rollout(
        project,
        steps=[20, 50, 100],
        interval="1s",
        lease="2s",
        # Only the controller's memory is on trial here: no latency or agreement noise.
        analysis={"min_requests": 10, "max_p99_latency_ratio": 1000, "min_agreement": 0.0},
    )
    config = load_config(project)
    settings = Settings()
    opened = Project(config.base_dir, settings, config)
    store = opened.state
    start_rollout(opened, actor="test")

    def read() -> RolloutState:
        return get_rollout(store, NAME)

    rows = sample_rows(project, 50)
    first = start_gateway(project, name="first")
    gateways.append(first)
    with Traffic(first, rows) as traffic:
        wait_for("the first step", read, lambda s: s.plan["step"] >= 1, timeout=60)
    assert traffic.failures == []
    first.kill()

    before = read()
    assert before.status == "running"
    step, weight = before.plan["step"], before.weight
    assert weight == [20.0, 50.0, 100.0][step]
    killed_at = max(e.id for e in rollout_events(store, NAME))

    second = start_gateway(project, name="second")
    gateways.append(second)
    seen = second.admin("GET", "/admin/rollout")
    assert seen["serving"]["strategy"] == "canary"
    assert seen["serving"]["challenger"] == "2"
    # At the step it was killed at, or past it when the new controller, once the dead
    # one's lease ran out, already judged that step on the traffic logged before the kill.
    assert seen["rollout"]["state"]["plan"]["step"] >= step

    # The new process's controller waits out the dead one's lease, then analyses the
    # step the store says it is at: the rollout did not start over.
    deadline = time.monotonic() + 30
    while not [e for e in rollout_events(store, NAME) if e.id > killed_at]:
        assert time.monotonic() < deadline, f"no analysis after the restart:\n{second.log()}"
        time.sleep(0.1)
    resumed = next(e for e in rollout_events(store, NAME) if e.id > killed_at)
    assert (resumed.kind, resumed.step, resumed.weight) == ("analysis", step, weight)
    assert resumed.actor == "controller"

    with Traffic(second, rows) as traffic:
        after = wait_for(
            "the next step",
            read,
            lambda s: s.status != "running" or s.plan["step"] > step,
            timeout=60,
        )
    assert traffic.failures == []
    if after.status == "running":
        assert after.weight == [20.0, 50.0, 100.0][after.plan["step"]]
    else:
        assert after.status == "promoted"
    assert [e.kind for e in rollout_events(store, NAME)].count("start") == 1
    second.stop()
    assert second.process.returncode == 0, second.log()
