"""The dashboard in a real browser: headless Chromium on a real `mlgate serve`.

One gateway for the module (the registered project: champion 1, challenger 2),
with a long canary plan (5% steps, an analysis a second) so a rollout runs long
enough to watch. Traffic comes from a bounded load thread on 127.0.0.1, keyed
requests one row each; the rollout is started and checked through the CLI.
Screenshots of each view go to the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from rollout.support import (
    TOKEN,
    Gateway,
    clean_environment,
    copy_project,
    free_port,
    registered_template,
    sample_rows,
    set_rollout,
    start_gateway,
)

STEPS = [float(5 * i) for i in range(1, 21)]
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Gateway]]:
    """The module's project config and its gateway, serving until the module ends."""
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        template = registered_template(tmp_path_factory)
        config = copy_project(template, tmp_path_factory.mktemp("ui") / "project")
        set_rollout(
            config,
            steps=STEPS,
            interval="1s",
            failure_limit=3,
            analysis={"min_requests": 10, "max_p99_latency_ratio": 1000, "min_agreement": 0.0},
        )
        gateway = start_gateway(config)
        try:
            yield config, gateway
        finally:
            gateway.stop()


@dataclass
class Watched:
    """A page, and what it did: console errors, uncaught errors, requests, navigations."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    navigations: int = 0

    def screenshot(self, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    """A fresh tab at laptop width; dialogs (the actions' confirmations) are accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Watched(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: seen.requests.append(r.url))

    def navigated(frame: Any) -> None:
        if frame == page.main_frame:
            seen.navigations += 1

    page.on("framenavigated", navigated)
    page.on("dialog", lambda d: d.accept())
    yield seen
    context.close()


class Load(threading.Thread):
    """Keyed single-row requests to the gateway until stopped (at most `seconds`), each
    answer's true label sent back to /feedback, so the live accuracy has labels."""

    def __init__(self, url: str, config: Path, seconds: float = 120.0) -> None:
        super().__init__(name="ui-load", daemon=True)
        assert url.startswith("http://127.0.0.1:")
        self.url, self.seconds = url, seconds
        self.rows = sample_rows(config, 100)
        labels = pd.read_csv(config.parent / "data" / "test.csv")["default"].head(100)
        self.labels = [int(v) for v in labels]
        self.stopped = threading.Event()
        self.statuses: dict[int, int] = {}

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        with httpx.Client(base_url=self.url, timeout=10) as client:
            sent = 0
            while not self.stopped.is_set() and time.monotonic() < deadline:
                i = sent % len(self.rows)
                response = client.post(
                    "/predict",
                    json={"instances": [self.rows[i]]},
                    headers={"x-mlgate-key": f"user-{sent}"},
                )
                self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    label = {"request_id": response.json()["request_id"], "label": self.labels[i]}
                    client.post("/feedback", json={"feedback": [label]})
                sent += 1
                time.sleep(0.005)

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.join(30)


def rollout_status(config: Path) -> dict[str, Any]:
    """`mlgate rollout status --json`, as a user would ask."""
    result = CliRunner().invoke(app, ["rollout", "status", "-c", str(config), "--json"])
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.output)
    return found


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def test_the_page_loads_each_view_with_no_error_and_nothing_off_its_origin(
    served: tuple[Path, Gateway], watched: Watched, browser: Any, tmp_path: Path
) -> None:
    _, gateway = served
    page = watched.page
    page.goto(f"{gateway.url}/ui")
    page.wait_for_function("() => document.getElementById('champion').textContent === 'v1'")
    assert text(page, "#challenger") == "v2"
    assert text(page, "#status") == "idle"
    assert page.locator("#chart-error_rate canvas").count() == 1
    assert text(page, "#chart-estimated figcaption") == (
        "Estimated accuracy before labels, with 95% intervals"
    )
    for button in page.locator(".act").all():
        assert button.is_disabled(), "read-only without the admin token"
    watched.screenshot(tmp_path, "rollout")

    page.click("button[data-view=models]")
    page.wait_for_function("() => document.querySelectorAll('#versions tbody tr').length === 2")
    rows = page.locator("#versions tbody tr").all_inner_texts()
    assert rows[0].startswith("v2\tchallenger\tpassed")
    assert rows[1].startswith("v1\tchampion\tpassed")
    assert page.locator("#history tbody tr").count() >= 2
    watched.screenshot(tmp_path, "models")
    page.click("#versions button:text-is('v2')")
    page.wait_for_function("() => document.querySelectorAll('#comparison tbody tr').length > 0")
    assert text(page, "#version-title") == "Version 2 (challenger): gate passed"
    compared = page.locator("#comparison tbody tr").all_inner_texts()
    assert any(row.startswith("accuracy\t") for row in compared)
    watched.screenshot(tmp_path, "version")

    page.click("button[data-view=traffic]")
    page.wait_for_function("() => document.getElementById('traffic-window').textContent !== ''")
    watched.screenshot(tmp_path, "traffic")

    assert watched.errors == []
    assert watched.requests, "the page made requests"
    off_origin = [url for url in watched.requests if not url.startswith(f"{gateway.url}/")]
    assert off_origin == []
    assert watched.navigations == 1

    # Phone width: the page reflows, nothing scrolls sideways.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    small.goto(f"{gateway.url}/ui")
    small.wait_for_function("() => document.getElementById('champion').textContent === 'v1'")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    phone.close()


def test_the_page_follows_a_rollout_and_aborts_it_only_with_the_admin_token(
    served: tuple[Path, Gateway], watched: Watched, tmp_path: Path
) -> None:
    config, gateway = served
    page = watched.page
    page.goto(f"{gateway.url}/ui")
    page.wait_for_function("() => document.getElementById('champion').textContent === 'v1'")
    result = "document.getElementById('action-result').textContent"
    points = "+document.getElementById('chart-requests').dataset.points"
    before = page.evaluate(points)

    with Load(gateway.url, config) as load:
        started = CliRunner().invoke(app, ["rollout", "start", "-c", str(config)])
        assert started.exit_code == 0, started.output
        page.wait_for_function(
            "() => document.getElementById('status').textContent === 'running'", timeout=WAIT_MS
        )
        # The controller steps on by itself: the page shows it without a reload.
        page.wait_for_function(
            "() => !['5%', '–'].includes(document.getElementById('weight').textContent)",
            timeout=WAIT_MS,
        )
        page.wait_for_function(f"() => {points} >= {before} + 2", timeout=WAIT_MS)
        # The estimate before labels is charted from the same analyses.
        estimated = "+document.getElementById('chart-estimated').dataset.points"
        assert page.evaluate(estimated) >= 2
        assert watched.navigations == 1, "no reload"
        assert rollout_status(config)["state"]["status"] == "running"
        watched.screenshot(tmp_path, "rollout-live")

        # A wrong token: the gateway refuses it as it is entered; the actions stay off.
        page.fill("#admin-token", "not-the-token")
        page.click("#admin-save")
        page.wait_for_function(
            "() => document.getElementById('admin-state').textContent.startsWith('admin token "
            "refused')",
            timeout=WAIT_MS,
        )
        assert text(page, "#admin-state") == (
            "admin token refused (401): admin endpoints need Authorization: Bearer "
            "<MLGATE_ADMIN_TOKEN>"
        )
        assert page.locator("button[data-act=abort]").is_disabled()
        assert rollout_status(config)["state"]["status"] == "running"

        page.fill("#admin-token", TOKEN)
        page.click("#admin-save")
        page.click("button[data-act=abort]")
        page.wait_for_function(
            f"() => {result}.startsWith('abort: done')",
            timeout=WAIT_MS,
        )
        assert text(page, "#action-result") == "abort: done. Serving champion v1."
        page.wait_for_function(
            "() => document.getElementById('status').textContent === 'rolled_back'", timeout=WAIT_MS
        )
        watched.screenshot(tmp_path, "rolled-back")
    state = rollout_status(config)["state"]
    assert state["status"] == "rolled_back"
    assert state["updated_by"] == "admin API"
    assert load.statuses.keys() == {200}
    refused = [e for e in watched.errors if "status of 401" not in e]
    assert refused == []
    assert all(url.startswith(f"{gateway.url}/") for url in watched.requests)


def test_mlgate_ui_shows_the_same_page_read_only_with_no_gateway(
    served: tuple[Path, Gateway], watched: Watched, tmp_path: Path
) -> None:
    config, _ = served
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = (tmp_path / "ui.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "ui", "-c", str(config), "--port", str(port)],
        stdout=output,
        stderr=subprocess.STDOUT,
        cwd=config.parent,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "ui.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/ui", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "mlgate ui did not answer"
            time.sleep(0.1)
        page = watched.page
        page.goto(f"{url}/ui")
        page.wait_for_function("() => document.getElementById('champion').textContent === 'v1'")
        page.wait_for_function(
            "() => document.getElementById('admin-state').textContent.startsWith('read-only: no')"
        )
        assert page.locator("#admin-token").is_hidden()
        for button in page.locator(".act").all():
            assert button.is_disabled()
        page.click("button[data-view=models]")
        page.wait_for_function("() => document.querySelectorAll('#versions tbody tr').length >= 2")
        watched.screenshot(tmp_path, "alone")
    finally:
        process.terminate()
        process.wait(timeout=30)
        output.close()
    assert process.returncode == 0, (tmp_path / "ui.log").read_text()
    assert watched.errors == []
    assert all(u.startswith(f"{url}/") for u in watched.requests)


def test_a_drifted_column_is_charted_after_mlgate_monitor_once(
    served: tuple[Path, Gateway], watched: Watched, tmp_path: Path
) -> None:
    config, gateway = served
    drifted = pd.read_csv(config.parent / "data" / "drifted.csv").drop(columns=["default"])
    rows = [
        {k: None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in drifted.to_dict("records")
    ]

    def requests() -> int:
        shown = httpx.get(f"{gateway.url}/ui/api/traffic", timeout=10).json()["versions"]
        return sum(sum(line["requests"]) for line in shown.values())

    before = requests()
    # Enough drifted rows to outweigh what the earlier tests sent from the test set.
    batches = [rows[i : i + 50] for i in range(0, len(rows), 50)] * 8
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for batch in batches:
            assert client.post("/predict", json={"instances": batch}).status_code == 200
    deadline = time.monotonic() + 30
    while requests() < before + len(batches):  # in the log's segments, for the monitor
        assert time.monotonic() < deadline, "the drifted rows never reached the log"
        time.sleep(0.2)
    monitored = CliRunner().invoke(app, ["monitor", "-c", str(config), "--once", "--no-retrain"])
    assert monitored.exit_code == 1, monitored.output  # 1: drift

    page = watched.page
    page.goto(f"{gateway.url}/ui")
    page.click("button[data-view=traffic]")
    page.wait_for_function(
        "() => document.querySelectorAll('#drift-charts figure canvas').length > 0",
        timeout=WAIT_MS,
    )
    verdicts = dict(
        line.split("\t")[0::4] for line in page.locator("#drift tbody tr").all_inner_texts()
    )
    charted = [c.split(":")[0] for c in page.locator("#drift-charts figcaption").all_inner_texts()]
    assert charted
    assert sorted(charted) == sorted(c for c, v in verdicts.items() if v == "drifted")
    watched.screenshot(tmp_path, "drift")
    assert watched.errors == []
