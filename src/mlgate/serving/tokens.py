"""Bearer tokens (the admin API's, the feedback route's), and a brake on guessing them.

A token is compared in constant time. A client address that sends `TOKEN_FAILURES`
wrong tokens within `TOKEN_WINDOW` seconds is answered 429, with Retry-After,
until the oldest of them leaves the window, right token or not: a guesser gets
ten tries a minute. Counted per worker process, in memory, for at most
`_ADDRESSES` addresses (the least recently failing are forgotten first). Behind a
proxy uvicorn trusts (FORWARDED_ALLOW_IPS), the address is the one it forwards.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import deque
from collections.abc import Callable

from pydantic import SecretStr

from mlgate.errors import InputError
from mlgate.serving.limits import TOKEN_FAILURES, TOKEN_WINDOW

__all__ = ["TokenGuard"]

#: Most client addresses whose failures are remembered.
_ADDRESSES = 10_000


class TokenGuard:
    """Checks bearer tokens, and slows down the addresses that keep failing."""

    def __init__(
        self,
        failures: int = TOKEN_FAILURES,
        window: float = TOKEN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window = window
        self._clock = clock
        self._failed: dict[str, deque[float]] = {}

    def check(
        self,
        address: str,
        authorization: str | None,
        token: SecretStr,
        refusal: str,
        *,
        also: SecretStr | None = None,
    ) -> None:
        """Refuse (401 saying `refusal`, or 429) unless `authorization` is `Bearer <token>`
        (or `Bearer <also>`: a stronger token that may do this too)."""
        now = self._clock()
        recent = self._recent(address, now)
        if recent is not None and len(recent) >= self.failures:
            wait = max(1, math.ceil(recent[0] + self.window - now))
            raise InputError(
                f"{len(recent)} wrong tokens from {address} within {self.window:g} s; "
                f"try again in {wait} s",
                status=429,
                code="too_many_failures",
                retry_after=wait,
            )
        scheme, _, value = (authorization or "").partition(" ")
        presented = value.strip().encode()
        for accepted in (token, also):
            expected = accepted.get_secret_value().strip().encode() if accepted else b""
            if (
                scheme.lower() == "bearer"
                and expected
                and presented
                and hmac.compare_digest(presented, expected)
            ):
                return
        self._fail(address, now, recent)
        raise InputError(refusal, status=401, code="unauthorized")

    def _recent(self, address: str, now: float) -> deque[float] | None:
        """The address's failures within the window (older ones dropped), if any."""
        recent = self._failed.get(address)
        if recent is None:
            return None
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if not recent:
            del self._failed[address]
            return None
        return recent

    def _fail(self, address: str, now: float, recent: deque[float] | None) -> None:
        if recent is None:
            recent = deque()
        else:
            del self._failed[address]  # re-inserted last: the most recently failing
        recent.append(now)
        self._failed[address] = recent
        if len(self._failed) > _ADDRESSES:
            del self._failed[next(iter(self._failed))]
