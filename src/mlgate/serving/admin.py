"""The admin API: the traffic split, rollouts, promotion and rollback, behind a token.

Off (404) unless MLGATE_ADMIN_TOKEN is set; every route needs it as a bearer
token (401). Bodies are parsed by pydantic models that take no unknown key (a
typo must not pass unnoticed). Each route does one act, takes its change at
once (the gateway that took it does not wait for its next poll), and answers
what is served. The acts are the road's (`mlgate.road`), the same functions
the CLI and the controller call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ParamSpec

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from mlgate.config.rollout import STRATEGIES
from mlgate.errors import InputError
from mlgate.road import acts, rollouts
from mlgate.serving import schemas
from mlgate.serving.body import read_json
from mlgate.serving.coercion import show_value
from mlgate.serving.gateway import Gateway
from mlgate.serving.responses import json_response
from mlgate.serving.routes import Route, client_address, gateway_of
from mlgate.state.rollout import RolloutState, get_rollout, set_rollout

__all__ = ["ROUTES", "Reason", "Split", "Start"]

_P = ParamSpec("_P")

#: Who the admin API's acts are recorded as done by.
ACTOR = "admin API"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Split(_Body):
    """POST /admin/rollout: the traffic split to apply now."""

    strategy: str
    weight: float = Field(0.0, ge=0.0, le=100.0)
    #: Any JSON value, recorded as its text (at most 500 characters).
    note: Any = ""


class Reason(_Body):
    """POST /admin/promote, /admin/rollback, /admin/rollout/promote and /abort: why."""

    reason: str | None = Field(None, max_length=500)


class Start(_Body):
    """POST /admin/rollout/start: the plan's strategy and steps, when not the config's."""

    strategy: str | None = None
    steps: list[int | float] | None = None


# Endpoints ------------------------------------------------------------------------


async def rollout_state(request: Request) -> Response:
    gateway, _ = _admitted(request)
    status = await asyncio.to_thread(rollouts.rollout_status, gateway.project)
    return json_response({"serving": gateway.describe(), "rollout": status})


async def start_rollout(request: Request) -> Response:
    gateway, actor = _admitted(request)
    body = await read_json(request, gateway.settings.max_body_bytes, empty={})
    return await _acted(gateway, _start, gateway, _plan(body), actor)


async def finish_rollout(request: Request) -> Response:
    gateway, actor = _admitted(request)
    reason = await _reason(request, gateway, "promoted by hand")
    return await _acted(gateway, _finish, gateway, reason, actor)


async def abort_rollout(request: Request) -> Response:
    gateway, actor = _admitted(request)
    reason = await _reason(request, gateway, "aborted by hand")
    return await _acted(gateway, _abort, gateway, reason, actor)


async def set_split(request: Request) -> Response:
    gateway, actor = _admitted(request)
    body = await read_json(request, gateway.settings.max_body_bytes)
    return await _acted(gateway, _apply_split, gateway, _split(body, gateway), actor)


async def promote(request: Request) -> Response:
    gateway, actor = _admitted(request)
    reason = await _reason(request, gateway, "promoted through the admin API")
    return await _acted(gateway, _promote, gateway, reason, actor)


async def rollback(request: Request) -> Response:
    gateway, actor = _admitted(request)
    reason = await _reason(request, gateway, "rolled back through the admin API")
    return await _acted(gateway, _roll_back, gateway, reason, actor)


async def _acted(
    gateway: Gateway, act: Callable[_P, RolloutState | None], *args: _P.args, **kwargs: _P.kwargs
) -> Response:
    """Do `act` off the event loop, load what it changed, and answer what is served now
    (with the rollout state, when the act gives one)."""
    state = await asyncio.to_thread(act, *args, **kwargs)
    await asyncio.to_thread(gateway.refresh)
    if state is None:
        return json_response(gateway.describe())
    return json_response({"rollout": state.model_dump(mode="json"), "serving": gateway.describe()})


def _admitted(request: Request) -> tuple[Gateway, str]:
    """The gateway and the actor, for a request that shows the admin token; refused (404
    when the admin API is off, else 401, or 429 for an address that keeps failing) for
    any other."""
    gateway = gateway_of(request)
    token = gateway.settings.admin_token
    if token is None:
        raise InputError(
            "the admin API is off: set MLGATE_ADMIN_TOKEN to turn it on",
            status=404,
            code="admin_off",
        )
    gateway.tokens.check(
        client_address(request),
        request.headers.get("authorization"),
        token,
        "admin endpoints need Authorization: Bearer <MLGATE_ADMIN_TOKEN>",
    )
    return gateway, ACTOR


# Bodies -----------------------------------------------------------------------------


def _split(body: Any, gateway: Gateway) -> Split:
    """The split a body asks for. Refused in this order: the body's shape, unknown keys,
    the strategy, no challenger to split traffic with (409), then the weight."""
    try:
        split: Split | None = Split.model_validate(body)
    except ValidationError as e:
        fields, unknown = _problems(e)
        if fields & {"", "strategy"}:
            raise InputError(
                'expected {"strategy": "...", "weight": 0-100}', status=400, code="bad_body"
            ) from None
        _refuse_unknown(unknown, Split)
        split = None
    strategy = body["strategy"]
    if strategy not in STRATEGIES:
        raise InputError(
            f"strategy must be one of {', '.join(STRATEGIES)}; got {show_value(strategy)}",
            code="bad_strategy",
        )
    if strategy != "none" and gateway.routing.challenger is None:
        raise InputError(
            f"there is no challenger to split traffic with; {gateway.name!r} serves its "
            "champion only. Register one (mlgate run), or make a version challenger again "
            "(mlgate models challenger)",
            status=409,
            code="no_challenger",
        )
    if split is None:  # the weight is all that is left to be wrong
        raise InputError(
            f"weight must be a number from 0 to 100 (percent to the challenger); "
            f"got {show_value(body.get('weight', 0.0))}",
            code="bad_weight",
        )
    return split


async def _reason(request: Request, gateway: Gateway, default: str) -> str:
    """The reason an act's body gives (none, or {"reason": "..."}), else `default`."""
    body = await read_json(request, gateway.settings.max_body_bytes, empty={})
    try:
        given = Reason.model_validate(body)
    except ValidationError as e:
        fields, unknown = _problems(e)
        if "" in fields:
            raise InputError(
                'expected no body, or {"reason": "..."}', status=400, code="bad_body"
            ) from None
        _refuse_unknown(unknown, Reason)
        raise InputError(
            "reason must be text of at most 500 characters", code="bad_reason"
        ) from None
    return given.reason or default


def _plan(body: Any) -> Start:
    """The strategy and steps a start asks for; refused in this order: the body's shape,
    unknown keys, the strategy, the steps."""
    try:
        return Start.model_validate(body)
    except ValidationError as e:
        fields, unknown = _problems(e)
    if "" in fields:
        raise InputError('expected {"strategy": ..., "steps": [...]}', status=400, code="bad_body")
    _refuse_unknown(unknown, Start)
    if "strategy" in fields:
        raise InputError("strategy must be a string", code="bad_strategy")
    raise InputError("steps must be a list of percentages", code="bad_steps")


def _problems(error: ValidationError) -> tuple[set[str], list[str]]:
    """The fields pydantic refused ("" for the body as a whole), and the unknown keys."""
    fields: set[str] = set()
    unknown: list[str] = []
    for item in error.errors():
        where = str(item["loc"][0]) if item["loc"] else ""
        if item["type"] == "extra_forbidden":
            unknown.append(where)
        else:
            fields.add(where)
    return fields, unknown


def _refuse_unknown(unknown: list[str], model: type[_Body]) -> None:
    """Refuse a body with keys the route does not take (a typo must not pass unnoticed)."""
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise InputError(
            f"unknown key(s) {shown}; this route takes {', '.join(model.model_fields)}",
            code="unknown_key",
        )


# Acts: the road's, as every face calls them -------------------------------------------


def _start(gateway: Gateway, plan: Start, actor: str) -> RolloutState:
    return rollouts.start_rollout(
        gateway.project, strategy=plan.strategy, steps=plan.steps, actor=actor
    )


def _finish(gateway: Gateway, reason: str, actor: str) -> RolloutState | None:
    return acts.promote(gateway.project, reason=reason, actor=actor).ended


def _abort(gateway: Gateway, reason: str, actor: str) -> RolloutState | None:
    return acts.abort(gateway.project, reason=reason, actor=actor).ended


def _apply_split(gateway: Gateway, split: Split, actor: str) -> RolloutState:
    """The split set by hand, on record as a `split` event (and on the webhook)."""
    note = str(split.note)[:500]
    state = set_rollout(
        gateway.store,
        gateway.name,
        strategy=split.strategy,
        weight=float(split.weight),
        actor=actor,
        note=note,
    )
    said = f"split set by hand: {split.strategy} {float(split.weight):g}%"
    rollouts.record(
        gateway.project, state, "split", said + (f" ({note})" if note else ""), {}, actor
    )
    return state


def _promote(gateway: Gateway, reason: str, actor: str) -> None:
    """The challenger becomes champion: a running rollout ends promoted; else the one this
    gateway serves as challenger is promoted and takes all traffic."""
    version = None
    if get_rollout(gateway.store, gateway.name).status != "running":
        challenger = gateway.routing.challenger
        if challenger is None:
            raise InputError("there is no challenger to promote", status=409, code="no_challenger")
        version = challenger.version
    acts.promote(gateway.project, version, reason=reason, actor=actor)


def _roll_back(gateway: Gateway, reason: str, actor: str) -> None:
    """During a rollout, the challenger out (as `rollout abort`); else the champion
    before this one back, with all traffic."""
    acts.rollback(gateway.project, reason=reason, actor=actor)


#: An act's body is optional: no body means the default reason.
_ACT_BODY = schemas.body(schemas.ACT, required=False)

ROUTES = (
    Route("GET", "/admin/rollout", rollout_state, "rollout_state", "admin"),
    Route(
        "POST",
        "/admin/rollout/start",
        start_rollout,
        "start_rollout",
        "admin",
        body=schemas.body(schemas.START),
    ),
    Route(
        "POST",
        "/admin/rollout/promote",
        finish_rollout,
        "finish_rollout",
        "admin",
        body=_ACT_BODY,
    ),
    Route(
        "POST",
        "/admin/rollout/abort",
        abort_rollout,
        "abort_rollout",
        "admin",
        body=_ACT_BODY,
    ),
    Route(
        "POST",
        "/admin/rollout",
        set_split,
        "set_split",
        "admin",
        body=schemas.body(schemas.ROLLOUT),
    ),
    Route("POST", "/admin/promote", promote, "promote", "admin", body=_ACT_BODY),
    Route("POST", "/admin/rollback", rollback, "rollback", "admin", body=_ACT_BODY),
)
