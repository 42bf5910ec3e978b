"""Bearer tokens, and the brake on guessing them: ten wrong a minute per address, then 429."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mlgate.errors import InputError
from mlgate.serving.tokens import TokenGuard

TOKEN = SecretStr("the-admin-token")
REFUSAL = "admin endpoints need Authorization: Bearer <MLGATE_ADMIN_TOKEN>"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _check(guard: TokenGuard, address: str, authorization: str | None) -> int:
    """The status `check` answers with (200 for a token it takes)."""
    try:
        guard.check(address, authorization, TOKEN, REFUSAL)
    except InputError as e:
        return e.status
    return 200


def test_ten_wrong_tokens_a_minute_then_429_until_the_first_leaves_the_window() -> None:
    clock = Clock()
    guard = TokenGuard(clock=clock)
    for _ in range(10):
        assert _check(guard, "10.0.0.1", "Bearer guess") == 401
        clock.now += 1
    with pytest.raises(
        InputError, match=r"^10 wrong tokens from 10\.0\.0\.1 within 60 s; try again in 50 s$"
    ) as refused:
        guard.check("10.0.0.1", "Bearer the-admin-token", TOKEN, REFUSAL)  # right, but locked
    assert (refused.value.status, refused.value.retry_after) == (429, 50)
    assert _check(guard, "10.0.0.2", "Bearer the-admin-token") == 200  # another address
    clock.now += 50  # the first failure leaves the window: one more try
    assert _check(guard, "10.0.0.1", "Bearer guess") == 401
    assert _check(guard, "10.0.0.1", "Bearer the-admin-token") == 429
    clock.now += 60
    assert _check(guard, "10.0.0.1", "Bearer the-admin-token") == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic the-admin-token", "the-admin-token", "Bearer x"],
)
def test_anything_but_the_bearer_token_is_refused(authorization: str | None) -> None:
    assert _check(TokenGuard(), "10.0.0.1", authorization) == 401


def test_the_addresses_remembered_are_bounded() -> None:
    guard = TokenGuard()
    for i in range(20_000):
        _check(guard, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "Bearer x")
    assert len(guard._failed) == 10_000


def test_a_real_server_slows_down_an_address_that_keeps_guessing(kit: Any, project: Any) -> None:
    gateway = kit.make_gateway(project, admin_token=TOKEN.get_secret_value())
    right = {"authorization": f"Bearer {TOKEN.get_secret_value()}"}
    with kit.in_thread(gateway) as url, httpx.Client(base_url=url, timeout=10) as client:
        guesses = [
            client.get("/admin/rollout", headers={"authorization": f"Bearer guess-{i}"})
            for i in range(11)
        ]
        locked = client.get("/admin/rollout", headers=right)
        # uvicorn takes the address a proxy on 127.0.0.1 forwards: another client's.
        other = client.get("/admin/rollout", headers={**right, "x-forwarded-for": "10.9.8.7"})
    assert [g.status_code for g in guesses] == [401] * 10 + [429]
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    assert locked.json()["detail"] == {"code": "too_many_failures"}
    assert other.status_code == 200
