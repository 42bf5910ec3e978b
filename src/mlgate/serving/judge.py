"""/judge: mlgate's analysis for a rollout Argo Rollouts or Flagger runs.

- `GET /judge/{model}?baseline=&canary=&window=`: Argo Rollouts' Web metric
  provider. Always 200 with the judgement as JSON while the figures can be read;
  an AnalysisTemplate reads `$.verdict` (successCondition `result == "pass"`,
  failureCondition `result == "fail"`; anything else is inconclusive).
- `POST /judge/{model}`: Flagger's webhook contract. The body is Flagger's
  payload (`name`, `namespace`, `phase`, `checksum`, `metadata`); 200 passes,
  412 fails the check (a failed or inconclusive verdict: Flagger has no "wait").
  The arms default to Flagger's own names, `<name>-primary` and `<name>`;
  metadata may name them (`baseline`, `canary`) and the `window`.

Both read figures only, like /metrics: open unless MLGATE_READ_TOKEN is set, then
they need it as a bearer token; Flagger cannot send headers, so its metadata
may carry it as `token`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mlgate.config import parse_duration
from mlgate.config.monitor import DriftConfig
from mlgate.config.rollout import RolloutConfig
from mlgate.errors import InputError
from mlgate.rollout.judge import ArmDrift, Judgement, arm_drift, judge_arms
from mlgate.serving import schemas
from mlgate.serving.body import read_json
from mlgate.serving.gateway import Gateway
from mlgate.serving.responses import json_response
from mlgate.serving.routes import Route, client_address, gateway_of

__all__ = ["ROUTES"]

#: The window when the caller names none, and the longest it may name.
DEFAULT_WINDOW, MAX_WINDOW = 300.0, 7 * 86400.0
#: Longest arm name (a pod template hash or a Deployment's name is far shorter).
_MAX_ARM = 128
#: The Flagger payload's keys (its documented contract).
_FLAGGER = ("name", "namespace", "phase")


def _authorised(request: Request, gateway: Gateway, token: str | None = None) -> None:
    """Refused (401, or 429) without the read token when one is set."""
    expected = gateway.settings.read_token
    if expected is None:
        return
    given = request.headers.get("authorization") or (f"Bearer {token}" if token else None)
    gateway.tokens.check(
        client_address(request),
        given,
        expected,
        "/judge needs Authorization: Bearer <MLGATE_READ_TOKEN> (Flagger: metadata.token)",
    )


def _model(gateway: Gateway, request: Request) -> str:
    name = str(request.path_params["model"])
    if name != gateway.name:
        raise InputError(
            f"no model {name[:80]!r} on this gateway; it serves {gateway.name!r}",
            status=404,
            code="unknown_model",
            fix=f"ask /judge/{gateway.name}",
        )
    return name


def _arm(value: Any, what: str) -> str:
    if value is None:
        raise InputError(
            f"{what} is missing: name the arm (the MLGATE_ARM its pods set)",
            status=400,
            code="invalid_arm",
        )
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_ARM:
        raise InputError(
            f"{what} must name an arm (the MLGATE_ARM its pods set), 1 to {_MAX_ARM} "
            f"characters; got {str(value)[:80]!r}",
            status=400,
            code="invalid_arm",
        )
    return value.strip()


def _window(value: Any) -> float:
    if value is None or value == "":
        return DEFAULT_WINDOW
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise InputError(
            f"window {str(value)[:40]!r} {error}", status=400, code="invalid_window"
        ) from None
    if seconds > MAX_WINDOW:
        raise InputError(
            f"window {str(value)[:40]!r} is longer than the most, 7d",
            status=400,
            code="invalid_window",
        )
    return seconds


async def _judge(
    gateway: Gateway, model: str, baseline: str, canary: str, window: float
) -> Judgement:
    if baseline == canary:
        raise InputError(
            f"baseline and canary are the same arm {baseline!r}; name two arms",
            status=400,
            code="invalid_arm",
        )
    project = gateway.project
    config = project.config.rollout if project.has_config else RolloutConfig()
    since = datetime.now(UTC) - timedelta(seconds=window)
    regression = gateway.routing.champion.card.task == "regression"
    judgement = await asyncio.to_thread(
        judge_arms,
        project.log_root,
        model,
        baseline,
        canary,
        since,
        config,
        regression=regression,
    )
    if judgement.canary.version is not None:
        judgement.drift = await asyncio.to_thread(
            _drift, gateway, model, canary, since, str(judgement.canary.version)
        )
        if judgement.drift is not None and judgement.drift.dataset_drift:
            judgement.reasons.append(
                f"note: the canary's inputs drifted from version {judgement.drift.version}'s "
                f"training data ({', '.join(judgement.drift.drifted)}); both arms see them, so "
                "it does not decide the verdict"
            )
    return judgement


def _drift(
    gateway: Gateway, model: str, arm: str, since: datetime, version: str
) -> ArmDrift | None:
    """The arm's drift against its version's reference profile; None when the version or
    its profile cannot be read (the verdict does not wait on it)."""
    from mlgate.drift.profile import PROFILE, Profile
    from mlgate.errors import MlgateError

    project = gateway.project
    try:
        catalog = project.catalog
        folder = catalog.local_path(catalog.version(model, version))
        profile = Profile.load(folder / PROFILE)
    except (MlgateError, OSError, ValueError):
        return None
    monitor = project.config.monitor if project.has_config else None
    drift = monitor.drift if monitor is not None else DriftConfig()
    min_rows = monitor.min_samples if monitor is not None else 100
    return arm_drift(
        project.log_root, model, arm, since, version, profile, drift, min_rows=min_rows
    )


async def argo(request: Request) -> Response:
    gateway = gateway_of(request)
    _authorised(request, gateway)
    model = _model(gateway, request)
    query = request.query_params
    judgement = await _judge(
        gateway,
        model,
        _arm(query.get("baseline"), "query parameter baseline"),
        _arm(query.get("canary"), "query parameter canary"),
        _window(query.get("window")),
    )
    return json_response(judgement.model_dump(mode="json"))


async def flagger(request: Request) -> Response:
    gateway = gateway_of(request)
    body = await read_json(request, gateway.settings.max_body_bytes)
    if not isinstance(body, dict) or any(not isinstance(body.get(k), str) for k in _FLAGGER):
        raise InputError(
            "the body must be Flagger's webhook payload: an object with name, namespace "
            "and phase (text), checksum and metadata",
            status=400,
            code="invalid_payload",
        )
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InputError("metadata must be an object of text", status=400, code="invalid_payload")
    _authorised(request, gateway, metadata.get("token"))
    model = _model(gateway, request)
    name = body["name"]
    judgement = await _judge(
        gateway,
        model,
        _arm(metadata.get("baseline", f"{name}-primary"), "metadata.baseline"),
        _arm(metadata.get("canary", name), "metadata.canary"),
        _window(metadata.get("window")),
    )
    payload = {**judgement.model_dump(mode="json"), "canary_name": name, "phase": body["phase"]}
    return json_response(payload, status=200 if judgement.passed else 412)


ROUTES = (
    Route("GET", "/judge/{model}", argo, "judge_argo", "operations"),
    Route(
        "POST",
        "/judge/{model}",
        flagger,
        "judge_flagger",
        "operations",
        body=schemas.body(schemas.FLAGGER),
    ),
)
