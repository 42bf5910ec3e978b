"""The admin API: off without a token, closed to a wrong one, and real changes with it."""

from __future__ import annotations

from typing import Any

import pytest

from mlgate.serving.tokens import TokenGuard
from mlgate.state.rollout import get_rollout
from serving.requests import MODEL

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}

ROUTES = [
    ("GET", "/admin/rollout", None),
    ("POST", "/admin/rollout", {"strategy": "canary", "weight": 50}),
    ("POST", "/admin/promote", None),
    ("POST", "/admin/rollback", None),
    ("POST", "/admin/rollout/start", {"strategy": "canary"}),
    ("POST", "/admin/rollout/promote", None),
    ("POST", "/admin/rollout/abort", None),
]


@pytest.fixture(scope="module")
def off(kit: Any, module_project: Any) -> Any:
    """A gateway without an admin token, for the tests that change nothing."""
    return kit.make_gateway(module_project)


@pytest.fixture(scope="module")
def locked(kit: Any, module_project: Any) -> Any:
    """A gateway with the admin token, for the tests that change nothing."""
    return kit.make_gateway(module_project, admin_token=TOKEN)


def _state(project: Any) -> tuple[Any, dict[str, str], int]:
    opened = project.opened()
    rollout = get_rollout(opened.state, MODEL)
    catalog = opened.catalog
    return rollout.revision, catalog.aliases(MODEL), len(catalog.history(MODEL))


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_admin_is_off_without_a_token(
    kit: Any, off: Any, module_project: Any, method: str, path: str, body: Any
) -> None:
    project = module_project
    before = _state(project)
    async with kit.running(off, lifespan=False) as s:
        response = await s.client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {
        "error": "the admin API is off: set MLGATE_ADMIN_TOKEN to turn it on",
        "detail": {"code": "admin_off"},
    }
    assert _state(project) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
        {"authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "longer", "basic", "no-scheme", "empty"],
)
async def test_a_missing_or_wrong_token_is_401_and_changes_nothing(
    kit: Any, locked: Any, module_project: Any, headers: dict[str, str]
) -> None:
    project = module_project
    before = _state(project)
    # Seven wrong tokens per case, under the ten a minute an address may send before
    # it is slowed down (see test_tokens.py): each case starts with a clean slate.
    locked.tokens = TokenGuard()
    async with kit.running(locked, lifespan=False) as s:
        for method, path, body in ROUTES:
            response = await s.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, path
            assert response.json() == {
                "error": "admin endpoints need Authorization: Bearer <MLGATE_ADMIN_TOKEN>",
                "detail": {"code": "unauthorized"},
            }
            assert TOKEN not in response.text
        served = s.gateway.describe()
    assert _state(project) == before
    assert served["champion"] == "1"
    assert served["strategy"] == "canary" or served["weight"] == 0.0


async def test_get_and_set_the_split(serve: Any, project: Any, registered: Any) -> None:
    async with serve(admin_token=TOKEN) as s:
        shown = await s.client.get("/admin/rollout", headers=AUTH)
        changed = await s.client.post(
            "/admin/rollout",
            json={"strategy": "blue-green", "weight": 100, "note": "switch"},
            headers=AUTH,
        )
        answer = await s.client.post("/predict", json={"instances": registered.lists()})
    assert shown.status_code == 200
    assert shown.json()["serving"] == {
        "model": MODEL,
        "champion": "1",
        "challenger": "2",
        "strategy": "none",
        "weight": 0.0,
        "revision": 0,
        "faults": None,
        "fast_path": {"champion": True, "challenger": True},
    }
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["rollout"]["strategy"] == "blue-green"
    assert body["rollout"]["weight"] == 100.0
    assert body["rollout"]["note"] == "switch"
    assert body["rollout"]["updated_by"] == "admin API"
    assert body["serving"]["strategy"] == "blue-green"
    stored = get_rollout(project.opened().state, MODEL)
    assert (stored.strategy, stored.weight, stored.revision) == ("blue-green", 100.0, 1)
    # Applied at once by the gateway that took the change, not at its next poll.
    assert answer.headers["x-mlgate-version"] == "2"
    assert answer.json()["predictions"] == registered.labels["2"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"strategy": "linear", "weight": 10},
            422,
            'strategy must be one of none, blue-green, canary, shadow, ab; got "linear"',
        ),
        (
            {"strategy": "canary", "weight": 150},
            422,
            "weight must be a number from 0 to 100 (percent to the challenger); got 150",
        ),
        (
            {"strategy": "canary", "weight": "10%"},
            422,
            'weight must be a number from 0 to 100 (percent to the challenger); got "10%"',
        ),
        ({"weight": 10}, 400, 'expected {"strategy": "...", "weight": 0-100}'),
        (["canary", 10], 400, 'expected {"strategy": "...", "weight": 0-100}'),
        (
            {"strategy": "canary", "wieght": 10},
            422,
            "unknown key(s) 'wieght'; this route takes strategy, weight, note",
        ),
    ],
)
async def test_a_bad_split_is_refused_and_changes_nothing(
    kit: Any, locked: Any, module_project: Any, body: Any, status: int, error: str
) -> None:
    project = module_project
    before = _state(project)
    async with kit.running(locked, lifespan=False) as s:
        response = await s.client.post("/admin/rollout", json=body, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert _state(project) == before


async def test_a_split_with_no_challenger_is_409_before_its_weight_is_read(
    serve: Any, project: Any
) -> None:
    async with serve(admin_token=TOKEN) as s:
        promoted = await s.client.post("/admin/promote", headers=AUTH)
        canary = await s.client.post(
            "/admin/rollout", json={"strategy": "canary", "weight": "x"}, headers=AUTH
        )
        champion_only = await s.client.post(
            "/admin/rollout", json={"strategy": "none", "weight": "x"}, headers=AUTH
        )
    assert promoted.status_code == 200, promoted.text
    assert canary.status_code == 409
    assert canary.json()["detail"] == {"code": "no_challenger"}
    assert champion_only.status_code == 422
    assert champion_only.json() == {
        "error": 'weight must be a number from 0 to 100 (percent to the challenger); got "x"',
        "detail": {"code": "bad_weight"},
    }


async def test_promote_then_rollback(serve: Any, project: Any, registered: Any) -> None:
    rows = {"instances": registered.lists()}
    async with serve(admin_token=TOKEN) as s:
        promoted = await s.client.post("/admin/promote", headers=AUTH)
        after_promotion = await s.client.post("/predict", json=rows)
        again = await s.client.post("/admin/promote", headers=AUTH)
        rolled_back = await s.client.post("/admin/rollback", headers=AUTH)
        after_rollback = await s.client.post("/predict", json=rows)
        nothing_left = await s.client.post("/admin/rollback", headers=AUTH)

    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["champion"] == "2"
    assert promoted.json()["challenger"] is None
    assert after_promotion.headers["x-mlgate-version"] == "2"
    assert after_promotion.json()["predictions"] == registered.labels["2"]

    assert again.status_code == 409
    assert again.json() == {
        "error": "there is no challenger to promote",
        "detail": {"code": "no_challenger"},
    }

    assert rolled_back.status_code == 200, rolled_back.text
    assert rolled_back.json()["champion"] == "1"
    assert after_rollback.headers["x-mlgate-version"] == "1"
    assert after_rollback.json()["predictions"] == registered.labels["1"]

    assert nothing_left.status_code == 409
    refused = nothing_left.json()
    assert refused["error"].startswith(
        "no champion of 'credit-risk' came before version 1, so there is nothing to roll back to"
    )
    assert refused["detail"] == {
        "code": "RegistryError",
        "fix": "Promote a version instead: mlgate models promote credit-risk VERSION.",
    }

    catalog = project.catalog()
    assert catalog.aliases(MODEL) == {"champion": "1"}
    moves = [
        (e.alias, e.action, e.from_version, e.to_version, e.reason) for e in catalog.history(MODEL)
    ]
    assert moves[-3:] == [
        ("champion", "promote", "1", "2", "promoted through the admin API"),
        ("challenger", "promote", "2", None, "became champion"),
        ("champion", "rollback", "2", "1", "rolled back through the admin API"),
    ]
    rollout = get_rollout(project.opened().state, MODEL)
    assert (rollout.strategy, rollout.weight, rollout.status) == ("none", 0.0, "rolled_back")


async def test_a_bad_rollout_plan_is_422(serve: Any, project: Any) -> None:
    before = _state(project)
    async with serve(admin_token=TOKEN) as s:
        response = await s.client.post(
            "/admin/rollout/start", json={"strategy": "canary", "steps": [10, 5]}, headers=AUTH
        )
        unknown = await s.client.post(
            "/admin/rollout/start", json={"strategy": "linear"}, headers=AUTH
        )
    for refused, field in ((response, "steps"), (unknown, "strategy")):
        assert refused.status_code == 422, refused.text
        assert f"{field}: " in refused.json()["error"]
    assert _state(project) == before


@pytest.mark.parametrize(
    ("path", "kind"), [("/admin/promote", "promote"), ("/admin/rollback", "rollback")]
)
async def test_promote_or_rollback_during_a_rollout_ends_it_on_record(
    serve: Any, project: Any, path: str, kind: str
) -> None:
    from mlgate.state.rollout import rollout_events

    async with serve(admin_token=TOKEN) as s:
        started = await s.client.post("/admin/rollout/start", headers=AUTH)
        assert started.status_code == 200, started.text
        ended = await s.client.post(path, headers=AUTH)
    assert ended.status_code == 200, ended.text
    assert ended.json()["champion"] == ("2" if kind == "promote" else "1")
    assert ended.json()["challenger"] is None
    state = get_rollout(project.opened().state, MODEL)
    assert state.status == ("promoted" if kind == "promote" else "rolled_back")
    events = rollout_events(project.opened().state, MODEL)
    assert [e.kind for e in events] == ["start", kind]
    assert events[-1].actor == "admin API"


async def test_an_empty_bearer_never_opens_the_admin_api(kit: Any, project: Any) -> None:
    from pydantic import ValidationError

    from mlgate.config.settings import Settings

    with pytest.raises(ValidationError, match="is set but empty"):
        Settings(admin_token="  ")
    async with kit.running(kit.make_gateway(project, admin_token=TOKEN), lifespan=False) as s:
        for header in ("Bearer ", "Bearer", "bearer  ", ""):
            response = await s.client.get("/admin/rollout", headers={"authorization": header})
            assert response.status_code == 401, header


async def test_a_start_with_an_unknown_key_is_refused(kit: Any, locked: Any) -> None:
    async with kit.running(locked, lifespan=False) as s:
        response = await s.client.post(
            "/admin/rollout/start", json={"strategy": "canary", "step": [10, 100]}, headers=AUTH
        )
    assert response.status_code == 422
    assert response.json()["error"] == ("unknown key(s) 'step'; this route takes strategy, steps")


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (
            "/admin/promote",
            {"version": "2"},
            422,
            "unknown key(s) 'version'; this route takes reason",
        ),
        ("/admin/rollback", ["why"], 400, 'expected no body, or {"reason": "..."}'),
        (
            "/admin/rollout/abort",
            {"reason": 7},
            422,
            "reason must be text of at most 500 characters",
        ),
        (
            "/admin/rollout/promote",
            {"reason": "x" * 501},
            422,
            "reason must be text of at most 500 characters",
        ),
    ],
)
async def test_an_acts_body_gives_a_reason_or_is_refused_changing_nothing(
    kit: Any, locked: Any, module_project: Any, path: str, body: Any, status: int, error: str
) -> None:
    before = _state(module_project)
    async with kit.running(locked, lifespan=False) as s:
        response = await s.client.post(path, json=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert _state(module_project) == before


async def test_the_reason_an_act_gives_is_kept(serve: Any, project: Any) -> None:
    async with serve(admin_token=TOKEN) as s:
        promoted = await s.client.post(
            "/admin/promote", json={"reason": "ship it after review"}, headers=AUTH
        )
    assert promoted.status_code == 200, promoted.text
    moves = project.catalog().history(MODEL)
    assert (moves[-2].action, moves[-2].reason) == ("promote", "ship it after review")


async def test_a_split_set_by_hand_is_an_event(serve: Any, project: Any) -> None:
    from mlgate.state.rollout import rollout_events

    async with serve(admin_token=TOKEN) as s:
        changed = await s.client.post(
            "/admin/rollout", json={"strategy": "canary", "weight": 30, "note": "try"}, headers=AUTH
        )
    assert changed.status_code == 200, changed.text
    (event,) = rollout_events(project.opened().state, MODEL)
    assert (event.kind, event.strategy, event.weight, event.actor) == (
        "split",
        "canary",
        30.0,
        "admin API",
    )
    assert event.message == "split set by hand: canary 30% (try)"
