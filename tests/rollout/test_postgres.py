"""Two gateway processes on one PostgreSQL state store agree on the split and the champion.

The server is the real PostgreSQL of tests/state/conftest.py (skipped, saying
why, where its binaries are missing). Both gateways serve the same project;
only the state store is shared through PostgreSQL.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlgate.state.rollout import acquire_lease, get_rollout, rollout_events
from mlgate.state.store import StateStore
from state.conftest import Postgres, postgres  # noqa: F401  (the fixture, reused)

from .support import NAME, Gateway, race_for_an_expired_lease, sample_rows, start_gateways


@pytest.fixture
def state_url(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    """A fresh PostgreSQL database as this test's state store (MLGATE_STATE_URL)."""
    url = postgres.new_database()
    monkeypatch.setenv("MLGATE_STATE_URL", url)
    return url


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    """The shared store, as the test reads it; its connections closed at the end."""
    opened = StateStore(state_url)
    yield opened
    opened.close()


@pytest.fixture
def pair(project: Path, state_url: str) -> Iterator[tuple[Gateway, Gateway]]:
    """Two gateways for the project on the shared store, stopped at the end."""
    env = {"MLGATE_STATE_URL": state_url, "MLGATE_POLL_INTERVAL": "0.2"}
    first, second = start_gateways(project, ["a", "b"], env=env)
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def versions(gateway: Gateway, rows: list[dict[str, object]], keys: list[str]) -> list[str]:
    """The version that answered each keyed request."""
    answered = []
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for key, row in zip(keys, rows * (len(keys) // len(rows) + 1), strict=False):
            response = client.post(
                "/predict", json={"instances": [row]}, headers={"x-mlgate-key": key}
            )
            assert response.status_code == 200, response.text
            answered.append(response.headers["x-mlgate-version"])
    return answered


def champion_of(gateway: Gateway) -> str:
    response = httpx.get(f"{gateway.url}/v2/models/{NAME}", timeout=5)
    assert response.status_code == 200, response.text
    return response.headers["x-mlgate-version"]


def analyses(store: StateStore) -> list[float]:
    return [e.at.timestamp() for e in rollout_events(store, NAME) if e.kind == "analysis"]


def test_two_gateways_agree_on_the_split_the_controller_and_the_champion(
    pair: tuple[Gateway, Gateway], project: Path, store: StateStore
) -> None:
    first, second = pair
    # A split set through one gateway is served by both, key for key.
    first.admin("POST", "/admin/rollout", json={"strategy": "canary", "weight": 30})
    deadline = time.monotonic() + 5
    while second.admin("GET", "/admin/rollout")["serving"]["weight"] != 30.0:
        assert time.monotonic() < deadline, "the second gateway never saw the new split"
        time.sleep(0.05)
    keys = [f"user-{i}" for i in range(60)]
    rows = sample_rows(project, 10)
    seen_first, seen_second = versions(first, rows, keys), versions(second, rows, keys)
    assert seen_first == seen_second
    assert 5 <= seen_first.count("2") <= 35  # about 30% of 60 keys go to the challenger

    # A rollout started through one: both controllers run, one acts each interval.
    assert first.admin("POST", "/admin/rollout/start")["rollout"]["status"] == "running"
    deadline = time.monotonic() + 30
    while len(analyses(store)) < 4:
        assert time.monotonic() < deadline, "the gateways' controllers did not analyse"
        time.sleep(0.1)
    # Interval 1 s: two controllers both acting would analyse twice in the same second.
    assert min(b - a for a, b in itertools.pairwise(analyses(store))) >= 0.5

    # Promoted through the other: within 2 s both serve the new champion.
    assert second.admin("POST", "/admin/rollout/promote")["rollout"]["status"] == "promoted"
    done = time.monotonic()
    champions = {}
    while time.monotonic() - done < 2.0:
        champions = {g.url: champion_of(g) for g in pair}
        if set(champions.values()) == {"2"}:
            break
        time.sleep(0.05)
    assert set(champions.values()) == {"2"}, f"after 2 s the gateways serve {champions}"
    assert get_rollout(store, NAME).status == "promoted"


def test_an_expired_lease_goes_to_exactly_one_of_many(store: StateStore) -> None:
    for round_ in range(3):
        assert len(race_for_an_expired_lease(store, f"race-{round_}")) == 1
    assert not acquire_lease(store, "race-0", "late", ttl=60)
