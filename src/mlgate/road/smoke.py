"""Smoke requests: a few of the project's own rows sent to a running gateway after a deploy.

A deploy job that changed what serves ends by asking the gateway itself: ready, then
every row answered 200 with one prediction each, by a version it names. Any failure
fails the job, saying what came back.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mlgate.data.io import read_pandas
from mlgate.errors import ConfigError
from mlgate.road.checks import feature_columns

if TYPE_CHECKING:
    from mlgate.config.models import PipelineConfig

__all__ = ["SmokeResult", "smoke"]

#: Characters of an answer quoted in a failure.
_QUOTED = 300


class SmokeResult(BaseModel):
    """What the gateway answered to the smoke requests."""

    url: str
    ready: bool
    rows: int = Field(description="Rows sent, one request each.")
    answered: int = Field(description="Rows answered 200 with one prediction.")
    versions: dict[str, int] = Field(default_factory=dict, description="Answers per version.")
    p50_ms: float | None = None
    max_ms: float | None = None
    failures: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.ready and self.answered == self.rows and not self.failures


def smoke(
    config: PipelineConfig, url: str, *, rows: int = 20, timeout: float = 10.0
) -> SmokeResult:
    """Send `rows` rows of the project's test data (else its training data), features
    only, one request each, to the gateway at `url`; what came back."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{url!r} is not an http(s) URL.",
            fix="Pass the gateway's address, e.g. https://models.example.com or "
            "http://127.0.0.1:8000.",
        )
    source = config.data.test or config.data.train
    frame = read_pandas(config.resolve(source))
    features = feature_columns(config, frame, source)
    # NaN goes out as null, as a client's missing value does.
    instances = json.loads(frame[features].head(rows).to_json(orient="records"))
    result = SmokeResult(url=url, ready=False, rows=len(instances), answered=0)
    times: list[float] = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=timeout) as client:
        try:
            ready = client.get("/v2/health/ready")
        except httpx.HTTPError as e:
            result.failures.append(f"the gateway did not answer: {type(e).__name__}: {e}")
            return result
        result.ready = ready.status_code == 200
        if not result.ready:
            result.failures.append(f"not ready: {ready.status_code} {_quoted(ready)}")
        for row, instance in enumerate(instances):
            started = time.perf_counter()
            try:
                answer = client.post("/predict", json={"instances": [instance]})
            except httpx.HTTPError as e:
                result.failures.append(f"row {row}: no answer: {type(e).__name__}: {e}")
                continue
            times.append((time.perf_counter() - started) * 1000)
            failure = _failure(answer)
            if failure:
                result.failures.append(f"row {row}: {failure}")
                continue
            result.answered += 1
            version = answer.headers.get("x-mlgate-version", "?")
            result.versions[version] = result.versions.get(version, 0) + 1
    if times:
        ordered = sorted(times)
        result.p50_ms, result.max_ms = ordered[len(ordered) // 2], ordered[-1]
    return result


def _failure(answer: Any) -> str | None:
    """Why an answer to one row is not a good one; None when it is."""
    if answer.status_code != 200:
        return f"{answer.status_code} {_quoted(answer)}"
    try:
        body = answer.json()
    except ValueError:
        return f"200 but not JSON: {_quoted(answer)}"
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != 1:
        return f"200 without one prediction: {_quoted(answer)}"
    return None


def _quoted(answer: Any) -> str:
    text = " ".join(str(answer.text).split())
    return text if len(text) <= _QUOTED else text[:_QUOTED] + "…"
