"""Webhook notifications: Slack-compatible JSON, sent off the caller's path.

`notify()` only queues; a worker thread posts with a timeout and a bounded
number of retries with backoff, and drops the oldest message when the queue is
full, so a slow or dead webhook never blocks serving or a rollout. The URL is
a secret (Slack's carry a token): only its host is ever logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from mlgate._version import __version__

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    """Posts events to one webhook URL; a Notifier without a URL does nothing."""

    def __init__(
        self,
        url: str | None,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        capacity: int = 1000,
    ) -> None:
        self._url = url or None
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        """Whether there is a URL to post to."""
        return self._url is not None

    @property
    def target(self) -> str:
        """The webhook's host, safe to show."""
        return urlsplit(self._url).hostname or "?" if self._url else "(none)"

    def notify(self, event: str, text: str, **details: Any) -> None:
        """Queue one message; returns at once."""
        if self._url is None:
            return
        payload = {
            "text": text,
            "event": event,
            "details": details,
            "source": f"mlgate {__version__}",
        }
        self._start()
        while True:
            try:
                self._queue.put_nowait(payload)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def send(self, payload: dict[str, Any]) -> bool:
        """Post one payload now, retrying server errors and timeouts; True when delivered."""
        import httpx

        assert self._url is not None  # only called with a URL
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                response = httpx.post(self._url, json=payload, timeout=self.timeout)
            except httpx.HTTPError as e:
                problem = type(e).__name__
            else:
                if response.status_code < 300:
                    self.sent += 1
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the receiver refuses this payload; retrying will not help
            if attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
        self.failed += 1
        log.warning(
            "webhook to %s failed (%s); event %s dropped",
            self.target,
            problem,
            payload.get("event"),
        )
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (within `timeout`) and stop the worker."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="mlgate-webhook", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            try:
                self.send(payload)
            except Exception:  # never let the worker die
                log.exception("webhook worker error")
