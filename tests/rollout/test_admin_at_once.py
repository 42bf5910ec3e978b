"""Admin acts sent at once to two gateway processes on one project: one wins, and what the
record says is what both serve (real uvicorns on 127.0.0.1)."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import httpx

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.project import Project
from mlgate.road.acts import nominate

from .support import TOKEN, Gateway, sample_rows, start_gateways

AUTH = {"authorization": f"Bearer {TOKEN}"}


def _post(gateway: Gateway, path: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}{path}", headers=AUTH, timeout=60)


def _served(gateway: Gateway, row: dict[str, Any]) -> str:
    response = httpx.post(f"{gateway.url}/predict", json={"instances": [row]}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.headers["x-mlgate-version"])


def test_a_promotion_and_an_abort_sent_at_once_to_two_gateways(
    project: Path, gateways: list[Gateway]
) -> None:
    first, second = start_gateways(project, ["a", "b"])
    gateways += [first, second]
    row = sample_rows(project, 1)[0]
    for _round in range(2):
        started = first.admin("POST", "/admin/rollout/start", json={"strategy": "canary"})
        assert started["rollout"]["status"] == "running"
        challenger = started["rollout"]["plan"]["challenger"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            promoted = pool.submit(_post, first, "/admin/rollout/promote")
            aborted = pool.submit(_post, second, "/admin/rollout/abort")
            answers = {"promote": promoted.result(), "abort": aborted.result()}
        statuses = sorted(a.status_code for a in answers.values())
        assert statuses == [200, 409], {k: a.text for k, a in answers.items()}
        won = next(what for what, a in answers.items() if a.status_code == 200)
        record = first.admin("GET", "/admin/rollout")["rollout"]["state"]
        assert record["status"] == ("promoted" if won == "promote" else "rolled_back")
        champion = challenger if won == "promote" else record["plan"]["champion"]
        for gateway in (first, second):  # each takes the change within its poll
            deadline = time.monotonic() + 10
            while _served(gateway, row) != champion:
                assert time.monotonic() < deadline, f"{gateway.url} serves another champion"
                time.sleep(0.1)
        if won == "promote":
            return  # no challenger is left to roll out again
        # The challenger was rolled back: make it challenger again for another round.
        again = first.admin("POST", "/admin/rollout", json={"strategy": "none"})
        assert again["serving"]["challenger"] is None
        loaded = load_config(project)
        nominate(Project(loaded.base_dir, Settings(), loaded), challenger, reason="again")
