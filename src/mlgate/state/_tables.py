"""A chunk of spool records made into one table, the records it cannot take set aside.

A chunk that fails to build is halved until each bad record is alone: a few
builds per bad record, and one build when all are good.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mlgate.state._status import ERROR_CHARS

__all__ = ["Build", "parsed", "table_of"]

Build = Callable[[list[dict[str, Any]]], Any]


def parsed(line: bytes) -> dict[str, Any] | None:
    """The record on a spool line; None for a line cut short (a crash) or not an object."""
    import orjson

    if not line.endswith(b"\n"):
        return None
    try:
        found = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def table_of(
    build: Build, records: list[dict[str, Any]], lines: list[bytes]
) -> tuple[tuple[Any, str] | None, list[tuple[bytes, str]]]:
    """(the table and day of the records that can be built, or None; the lines of those
    that cannot, each with why)."""
    try:
        return _table(build, records), []
    except Exception as e:
        if len(records) == 1:
            return None, [(lines[0], _why(e))]
    middle = len(records) // 2
    good, bad = _split(build, records, 0, middle)
    more_good, more_bad = _split(build, records, middle, len(records))
    good += more_good
    rejected = [(lines[i], why) for i, why in bad + more_bad]
    if not good:
        return None, rejected
    try:
        return _table(build, [records[i] for i in good]), rejected
    except Exception as e:  # good alone, not together: set them all aside
        return None, rejected + [(lines[i], _why(e)) for i in good]


def _table(build: Build, records: list[dict[str, Any]]) -> tuple[Any, str]:
    """The table of `records` and the day of the first (its segment's date folder)."""
    table = build(records)
    day = datetime.fromtimestamp(records[0]["t"] / 1e9, UTC).strftime("%Y-%m-%d")
    return table, day


def _split(
    build: Build, records: list[dict[str, Any]], start: int, stop: int
) -> tuple[list[int], list[tuple[int, str]]]:
    """(the positions in [start, stop) whose records build, those that do not with why)."""
    try:
        _table(build, records[start:stop])
        return list(range(start, stop)), []
    except Exception as e:
        if stop - start == 1:
            return [], [(start, _why(e))]
    middle = (start + stop) // 2
    good, bad = _split(build, records, start, middle)
    more_good, more_bad = _split(build, records, middle, stop)
    return good + more_good, bad + more_bad


def _why(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]
