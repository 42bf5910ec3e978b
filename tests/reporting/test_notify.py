"""The webhook notifier against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mlgate.reporting.notify import Notifier

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb-token-that-must-never-leak"


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class Webhook:
    """A webhook receiver: answers with `statuses` in turn (then 200), or hangs while told."""

    statuses: list[int] = field(default_factory=list)
    hang: threading.Event = field(default_factory=threading.Event)
    posts: list[Posted] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.posts) >= count, f"{len(self.posts)} posts, expected {count}"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length))
            hook.posts.append(Posted(self.path, dict(self.headers), body, time.monotonic()))
            # Hang (bounded) while told to: the receiver that never answers.
            deadline = time.monotonic() + 10
            while hook.hang.is_set() and time.monotonic() < deadline:
                time.sleep(0.02)
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield hook
    finally:
        hook.hang.clear()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_posts_slack_compatible_json(webhook: Webhook) -> None:
    notifier = Notifier(webhook.url)
    notifier.notify(
        "rollout_step", "mlgate credit-risk: advanced to 50%", model="credit-risk", weight=50.0
    )
    notifier.close(timeout=10)
    (posted,) = webhook.posts
    assert posted.path == SECRET_PATH
    assert posted.headers["Content-Type"] == "application/json"
    assert posted.body["text"] == "mlgate credit-risk: advanced to 50%"
    assert posted.body["event"] == "rollout_step"
    assert posted.body["details"] == {"model": "credit-risk", "weight": 50.0}
    assert posted.body["source"].startswith("mlgate ")
    assert notifier.sent == 1


def test_retries_server_errors_and_429_with_growing_backoff(webhook: Webhook) -> None:
    webhook.statuses = [500, 429]
    notifier = Notifier(webhook.url, attempts=3, backoff=0.1)
    assert notifier.send({"text": "hello"}) is True
    assert len(webhook.posts) == 3
    first, second, third = (p.at for p in webhook.posts)
    assert second - first >= 0.1
    assert third - second >= 0.2  # doubled
    assert (notifier.sent, notifier.failed) == (1, 0)


def test_gives_up_after_the_bounded_attempts(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    webhook.statuses = [503] * 10
    notifier = Notifier(webhook.url, attempts=3, backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="mlgate.reporting.notify"):
        assert notifier.send({"text": "hello", "event": "rollout_rollback"}) is False
    assert len(webhook.posts) == 3
    assert notifier.failed == 1
    assert caplog.messages == [
        "webhook to 127.0.0.1 failed (HTTP 503); event rollout_rollback dropped"
    ]


def test_a_refusal_is_not_retried(webhook: Webhook) -> None:
    webhook.statuses = [400]
    notifier = Notifier(webhook.url, attempts=5, backoff=0.01)
    assert notifier.send({"text": "hello"}) is False
    assert len(webhook.posts) == 1


def test_notify_never_blocks_on_a_hanging_receiver(webhook: Webhook) -> None:
    webhook.hang.set()
    notifier = Notifier(webhook.url, timeout=5, capacity=3)
    started = time.perf_counter()
    for i in range(20):
        notifier.notify("rollout_step", f"message {i}")
    queued = time.perf_counter() - started
    webhook.wait_for(1)  # the worker is stuck in the first post
    started = time.perf_counter()
    notifier.close(timeout=0.2)
    closing = time.perf_counter() - started
    assert queued < 0.5
    assert closing < 1.0
    assert notifier.dropped >= 15  # a full queue drops the oldest, never waits


def test_a_receiver_that_is_down_is_retried_then_dropped(caplog: pytest.LogCaptureFixture) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    notifier = Notifier(f"http://127.0.0.1:{port}{SECRET_PATH}", attempts=2, backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="mlgate.reporting.notify"):
        assert notifier.send({"text": "x", "event": "e"}) is False
    assert caplog.messages == ["webhook to 127.0.0.1 failed (URLError); event e dropped"]


def test_the_url_never_appears_in_logs(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: httpx would log the URL at INFO
    webhook.statuses = [500, 500, 500, 200]
    notifier = Notifier(webhook.url, attempts=3, backoff=0.01)
    notifier.notify("one", "fails three times")
    notifier.notify("two", "delivered")
    notifier.close(timeout=10)
    broken = Notifier("http://127.0.0.1:1" + SECRET_PATH, attempts=1, timeout=1)
    broken.send({"text": "x"})
    unreadable = Notifier("http://[::1" + SECRET_PATH, attempts=3, backoff=1)
    assert unreadable.send({"text": "x"}) is False  # at once: no retry can mend a URL
    assert (notifier.sent, notifier.failed) == (1, 1)
    assert caplog.records, "the failures are logged"
    for secret in ("T0SECRET", "B0SECRET", "xoxb-token", SECRET_PATH):
        assert secret not in caplog.text
    assert notifier.target == "127.0.0.1"
    assert unreadable.target == "?"


def test_without_a_url_nothing_is_sent() -> None:
    notifier = Notifier(None)
    assert not notifier.enabled
    assert notifier.target == "(none)"
    notifier.notify("anything", "text")
    assert notifier.send({"text": "x"}) is False
    notifier.close()


def test_only_web_addresses_are_posted_to(tmp_path: Any) -> None:
    target = tmp_path / "file.json"
    notifier = Notifier(target.as_uri(), attempts=3, backoff=1)
    started = time.perf_counter()
    assert notifier.send({"text": "x"}) is False
    assert time.perf_counter() - started < 0.5  # not retried
    assert not target.exists()
