"""Traffic strategies: pure, deterministic functions of (strategy, weight, routing key).

A keyed request lands in a bucket in [0, 100) from a keyed BLAKE2b hash of the
key, the same in every process and after every restart (unlike Python's
`hash()`, which is salted per process). A key goes to the challenger when its
bucket is below the weight, so raising a canary's weight only ever moves more
keys to the challenger: nobody flips back and forth between versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Assignment", "Role", "assign", "bucket"]

Role = Literal["champion", "challenger"]

_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who answers a request, and whether the challenger gets a copy off the path."""

    primary: Role
    shadow: bool = False


_CHAMPION = Assignment("champion")
_CHALLENGER = Assignment("challenger")
_SHADOW = Assignment("champion", shadow=True)


def bucket(key: str, salt: str = "") -> float:
    """The key's stable position in [0, 100)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, key=salt.encode()[:64]).digest()
    return int.from_bytes(digest, "big") / _SCALE * 100.0


def assign(
    strategy: str,
    weight: float,
    key: str | None,
    random: Callable[[], float],
    *,
    salt: str = "",
    has_challenger: bool = True,
) -> Assignment:
    """Which version answers one request under `strategy` at `weight` percent.

    - none: the champion answers everything.
    - blue-green: all traffic to one side: the challenger at weight 100; below it (before
      the switch) the champion, with a copy to the challenger for the pre-switch analysis.
    - canary and ab: the challenger for keys whose bucket is below the weight; keyless
      requests are split at random with the weight (`random()` in [0, 1)).
    - shadow: the champion answers; the challenger gets a copy.
    """
    if not has_challenger or strategy == "none":
        return _CHAMPION
    if strategy == "shadow":
        return _SHADOW
    if strategy == "blue-green":
        return _CHALLENGER if weight >= 100.0 else _SHADOW
    if weight <= 0.0:
        return _CHAMPION
    position = bucket(key, salt) if key is not None else random() * 100.0
    return _CHALLENGER if position < weight else _CHAMPION
