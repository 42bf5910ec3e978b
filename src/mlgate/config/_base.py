"""What the config sections share: strict, frozen models and durations written as text."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["OptionalSeconds", "Seconds", "Strict", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Strict(BaseModel):
    """A config section: unknown keys are an error, and a loaded section never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: Any) -> float:
    """Seconds in `value`: a number of seconds, or text such as 500ms, 60s, 5m, 1h, 1d."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("must be a duration such as 30s, 5m or 1h")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds):  # .nan and .inf in YAML
        raise ValueError("must be a duration such as 30s, 5m or 1h")
    if seconds <= 0:
        raise ValueError("must be a positive duration")
    return seconds


def _optional_duration(value: Any) -> float | None:
    return None if value is None else parse_duration(value)


#: A field in seconds that the config may also write as 500ms, 60s, 5m, 1h or 1d.
Seconds = Annotated[float, BeforeValidator(parse_duration)]
#: The same for a field that may be left unset (None).
OptionalSeconds = Annotated[float | None, BeforeValidator(_optional_duration)]
