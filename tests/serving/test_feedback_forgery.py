"""Labels steer rollouts, so a client cannot forge them (a real uvicorn on 127.0.0.1).

The attack this answers: requests sent to both versions under one chosen
x-request-id, then two labels for that id, each counted against every row that
shared it, made the controller roll a good challenger back (live accuracy 0.000
against 1.000); the x-mlgate-role header told which version to label wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mlgate.rollout.analysis import analyse
from mlgate.state.rollout import set_rollout
from serving.requests import MODEL

FEEDBACK_TOKEN = "labels-only-from-us"


@pytest.fixture
def served(kit: Any, project: Any) -> Iterator[tuple[Any, str]]:
    """A canary at 50%, served on 127.0.0.1; the gateway and its URL."""
    set_rollout(project.opened().state, MODEL, strategy="canary", weight=50.0, actor="test")
    gateway = kit.make_gateway(project)
    with kit.in_thread(gateway) as url:
        yield gateway, url


def test_a_chosen_request_id_steers_nothing(served: tuple[Any, str], project: Any) -> None:
    gateway, url = served
    since = datetime.now(UTC) - timedelta(seconds=1)
    row = {"instances": project.registered.lists(slice(0, 1))}
    with httpx.Client(base_url=url, timeout=10) as client:
        answers = [
            client.post("/predict", json=row, headers={"x-request-id": "shared"})
            for _ in range(120)
        ]
        assert {a.status_code for a in answers} == {200}
        assert {a.headers["x-mlgate-version"] for a in answers} == {"1", "2"}
        assert all("x-mlgate-role" not in a.headers for a in answers)
        issued = [a.json()["request_id"] for a in answers]
        assert len(set(issued)) == 120  # one id per answer, whatever the client sent
        # The old attack: labels for the shared id. Neither is kept.
        forged = client.post(
            "/feedback",
            json={"feedback": [{"request_id": "shared", "label": 1}] * 2},
        )
        # Labels for issued ids are kept, one per row: a second one for a row is not.
        honest = client.post(
            "/feedback",
            json={"feedback": [{"request_id": r, "label": 1} for r in issued[:10] + issued[:3]]},
        )
    assert forged.json() == {"accepted": 0, "unknown": 2, "duplicate": 0}
    assert honest.json() == {"accepted": 10, "unknown": 0, "duplicate": 3}
    gateway.flush_logs()
    found = analyse(project.logs, MODEL, since)
    assert found.champion.labelled + found.challenger.labelled == 10  # once per answered row
    assert found.champion.requests + found.challenger.requests == 120


def test_a_label_for_a_row_the_request_did_not_have_is_refused(
    served: tuple[Any, str], project: Any
) -> None:
    _, url = served
    rows = {"instances": project.registered.lists(slice(0, 3))}
    with httpx.Client(base_url=url, timeout=10) as client:
        issued = client.post("/predict", json=rows).json()["request_id"]
        past = client.post(
            "/feedback",
            json={
                "feedback": [
                    {"request_id": issued, "row": 2, "label": 1},
                    {"request_id": issued, "row": 3, "label": 1},
                ]
            },
        )
        # The row count is signed into the id: changing it makes the id unknown.
        count = int(issued[18:24], 16)
        altered = issued[:18] + f"{count + 5:06x}" + issued[24:]
        forged = client.post("/feedback", json={"request_id": altered, "row": 7, "label": 1})
        last = client.post("/feedback", json={"request_id": issued, "row": 2, "label": 1})
    assert count == 3
    assert past.status_code == 422, past.text
    assert past.json()["error"] == (
        f"feedback[1].row is 3, but request {issued} had 3 row(s), numbered from 0 to 2"
    )
    assert forged.json() == {"accepted": 0, "unknown": 1, "duplicate": 0}
    assert last.json() == {"accepted": 1, "unknown": 0, "duplicate": 0}  # nothing was kept


def test_a_label_without_a_row_is_refused_for_a_request_of_several_rows(
    served: tuple[Any, str], project: Any
) -> None:
    gateway, url = served
    with httpx.Client(base_url=url, timeout=10) as client:
        two = client.post(
            "/predict", json={"instances": project.registered.lists(slice(0, 2))}
        ).json()["request_id"]
        one = client.post(
            "/predict", json={"instances": project.registered.lists(slice(0, 1))}
        ).json()["request_id"]
        refused = client.post("/feedback", json={"request_id": two, "label": 1})
        # A one-row request's label may leave its row out: it is row 0.
        kept = client.post(
            "/feedback",
            json={
                "feedback": [
                    {"request_id": one, "label": 1},
                    {"request_id": two, "row": 1, "label": 0},
                ]
            },
        )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == (
        f"feedback[0] names no row, but request {two} had 2 rows: give feedback[0].row, "
        "the row's position in the request (from 0 to 1)"
    )
    assert kept.json() == {"accepted": 2, "unknown": 0, "duplicate": 0}
    # A batch run's id says "very many rows".
    batch = gateway.request_ids.new(None)
    with httpx.Client(base_url=url, timeout=10) as client:
        unsaid = client.post("/feedback", json={"request_id": batch, "label": 1})
    assert unsaid.status_code == 422, unsaid.text
    assert unsaid.json()["error"] == (
        f"feedback[0] names no row, but request {batch} had very many rows: give "
        "feedback[0].row, the row's position in the request (from 0)"
    )


def test_feedback_needs_the_token_when_one_is_set(kit: Any, project: Any) -> None:
    gateway = kit.make_gateway(project, feedback_token=FEEDBACK_TOKEN)
    row = {"instances": project.registered.lists(slice(0, 1))}
    with kit.in_thread(gateway) as url, httpx.Client(base_url=url, timeout=10) as client:
        issued = client.post("/predict", json=row).json()["request_id"]
        label = {"request_id": issued, "label": 1}
        refused = [
            client.post("/feedback", json=label, headers=headers)
            for headers in (
                {},
                {"authorization": "Bearer wrong"},
                {"authorization": FEEDBACK_TOKEN},
            )
        ]
        taken = client.post(
            "/feedback", json=label, headers={"authorization": f"Bearer {FEEDBACK_TOKEN}"}
        )
    for response in refused:
        assert response.status_code == 401
        assert response.json() == {
            "error": "POST /feedback needs Authorization: Bearer <MLGATE_FEEDBACK_TOKEN>",
            "detail": {"code": "unauthorized"},
        }
    assert taken.json() == {"accepted": 1, "unknown": 0, "duplicate": 0}
    assert gateway.converter.status["feedback"]["rows"] == 1  # written when it stopped


def test_the_role_is_told_only_when_asked_for(kit: Any, project: Any) -> None:
    set_rollout(project.opened().state, MODEL, strategy="canary", weight=100.0, actor="test")
    row = {"instances": project.registered.lists(slice(0, 1))}
    for role_header, expected in ((False, None), (True, "challenger")):
        gateway = kit.make_gateway(project, role_header=role_header)
        with kit.in_thread(gateway) as url:
            response = httpx.post(f"{url}/predict", json=row, timeout=10)
            lists = row["instances"]
            v2 = {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [1, len(lists[0])],
                        "datatype": "BYTES",
                        "data": lists,
                    }
                ]
            }
            explained = httpx.post(f"{url}/v2/models/{MODEL}/explain", json=v2, timeout=30)
        assert response.headers["x-mlgate-version"] == "2"
        assert response.headers.get("x-mlgate-role") == expected
        assert explained.status_code == 200, explained.text
        assert explained.json().get("role") == (expected and "champion")
