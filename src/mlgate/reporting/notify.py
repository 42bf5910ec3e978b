"""Webhook notifications: Slack-compatible JSON, sent off the caller's path.

`notify()` only queues; a worker thread posts with a timeout and a bounded
number of retries with backoff, and drops the oldest message when the queue is
full, so a slow or dead webhook never blocks serving or a rollout. The URL is
a secret (Slack's carry a token): only its host is ever logged. It is posted
with the standard library, not httpx, because httpx logs every request's full
URL at INFO level.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from mlgate._version import __version__

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

_NOT_HTTP = "not an http(s) URL"
_UNREADABLE = "an unreadable URL"


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
        self._starting = threading.Lock()
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
        if self._url is None:
            return "(none)"
        try:
            return urlsplit(self._url).hostname or "?"
        except ValueError:  # a URL too broken to split (an unclosed IPv6 bracket)
            return "?"

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
        self._put(payload)

    def _put(self, payload: dict[str, Any] | None) -> None:
        """Queue without waiting: when full, the oldest message makes room."""
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
        if self._url is None:
            return False
        body = json.dumps(payload, default=str).encode()
        delay = self.backoff
        problem = "not sent"
        for attempt in range(1, self.attempts + 1):
            status = self._post(self._url, body)
            if isinstance(status, int) and status < 300:
                self.sent += 1
                return True
            problem = f"HTTP {status}" if isinstance(status, int) else status
            final = status in (_NOT_HTTP, _UNREADABLE)
            if final or (isinstance(status, int) and status < 500 and status != 429):
                break  # the receiver refuses this payload (or is no web address): final
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

    def _post(self, url: str, body: bytes) -> int | str:
        """One POST's HTTP status, or the kind of failure (never its text: it may hold the URL)."""
        try:
            if urlsplit(url).scheme not in ("http", "https"):
                return _NOT_HTTP
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "mlgate"},
            )
            with _OPENER.open(request, timeout=self.timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            e.close()
            return int(e.code)
        except ValueError:  # urllib cannot read the URL: no attempt will do better
            return _UNREADABLE
        except Exception as e:  # refused, timed out, unreadable URL: all worth a retry or a log
            return type(e).__name__

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (within `timeout`) and stop the worker; never waits longer."""
        with self._starting:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._put(None)
        thread.join(timeout)

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="mlgate-webhook", daemon=True
                )
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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: urllib would turn the POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())
