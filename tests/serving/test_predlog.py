"""The prediction log and feedback: every served request is on disk after shutdown."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from mlgate.state.convert import Converter
from mlgate.state.predlog import read_log
from mlgate.state.spool import Spool
from serving.requests import MODEL

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the refusals, which change nothing."""
    return kit.make_gateway(module_project)


async def _send_all(s: Any, registered: Any) -> tuple[dict[str, slice], dict[str, str]]:
    """One request per protocol and a few single rows: {request id: rows of test.csv}, by
    the ids the gateway answered with, and {request id: the x-request-id sent with it}."""
    sent: dict[str, slice] = {}
    client_ids: dict[str, str] = {}
    client = s.client
    requests = [
        ("predict-lists", "/predict", {"instances": registered.lists(slice(0, 30))}, slice(0, 30)),
        (
            "predict-records",
            "/predict",
            {"instances": registered.records(slice(30, 60))},
            slice(30, 60),
        ),
        (
            "mlflow-split",
            "/invocations",
            {
                "dataframe_split": {
                    "columns": registered.features,
                    "data": registered.lists(slice(60, 90)),
                }
            },
            slice(60, 90),
        ),
        (
            "v2",
            f"/v2/models/{MODEL}/infer",
            {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [30, 6],
                        "datatype": "BYTES",
                        "data": registered.lists(slice(90, 120)),
                    }
                ]
            },
            slice(90, 120),
        ),
    ]
    for i in range(10):
        rows = slice(i, i + 1)
        requests.append((f"single-{i}", "/predict", {"instances": registered.records(rows)}, rows))
    for client_id, path, body, rows in requests:
        response = await client.post(path, json=body, headers={"x-request-id": client_id})
        assert response.status_code == 200, response.text
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{40}", request_id)
        sent[request_id] = rows
        client_ids[request_id] = client_id
    return sent, client_ids


async def test_every_served_request_is_in_the_log_after_shutdown(
    serve: Any, project: Any, registered: Any
) -> None:
    async with serve() as s:
        sent, client_ids = await _send_all(s, registered)
        spool, converter = s.gateway.predictions, s.gateway.converter
    assert spool.failures == 0
    assert spool.records == len(sent)  # one record per request, whatever its rows
    assert converter.status["predictions"]["rows"] == 130
    assert sum(r.stop - r.start for r in sent.values()) == 130

    log = read_log(
        project.logs,
        "predictions",
        "SELECT request_id, client_request_id, row, model, version, role, served, route, "
        "latency_ms, prediction, score, features, time FROM log ORDER BY request_id, row",
    )
    assert set(log["request_id"]) == set(sent)
    assert dict(zip(log["request_id"], log["client_request_id"], strict=True)) == client_ids
    assert len(log) == 130
    assert set(log["model"]) == {MODEL}
    assert set(log["version"]) == {"1"}
    assert set(log["role"]) == {"champion"}
    assert log["served"].all()
    assert set(log["route"]) == {"predict", "invocations", "v2"}
    assert (log["latency_ms"] > 0).all()
    assert log["score"].between(0.5, 1.0).all()
    for request_id, rows in sent.items():
        mine = log[log["request_id"] == request_id]
        assert mine["row"].tolist() == list(range(rows.stop - rows.start))
        assert mine["prediction"].tolist() == [str(v) for v in registered.labels["1"][rows]]
        for features, sent_row in zip(mine["features"], registered.records(rows), strict=True):
            for name, value in sent_row.items():
                got = features[name]
                if value is None:
                    assert got is None or (isinstance(got, float) and math.isnan(got))
                elif isinstance(value, str):
                    assert got == value
                else:
                    assert got == pytest.approx(value)


async def test_feedback_joins_predictions_by_request_id(
    serve: Any, project: Any, registered: Any
) -> None:
    truth = registered.test["default"].tolist()
    async with serve() as s:
        sent, client_ids = await _send_all(s, registered)
        single = {client_ids[r]: r for r in sent if client_ids[r].startswith("single")}
        labels = [
            {"request_id": request_id, "row": i, "label": truth[rows.start + i]}
            for request_id, rows in sent.items()
            if request_id not in single.values()
            for i in range(rows.stop - rows.start)
        ]
        accepted = await s.client.post("/feedback", json={"feedback": labels})
        one = await s.client.post(
            "/feedback", json={"request_id": single["single-0"], "label": str(truth[0])}
        )
        bare = await s.client.post(
            "/feedback", json=[{"request_id": single["single-1"], "label": truth[1], "row": 0}]
        )
        metrics = (await s.client.get("/metrics")).text
    assert accepted.json() == {"accepted": 120, "unknown": 0, "duplicate": 0}
    assert one.json() == bare.json() == {"accepted": 1, "unknown": 0, "duplicate": 0}
    assert 'mlgate_feedback_labels_total{model="credit-risk",outcome="accepted"} 122.0' in metrics

    joined = read_log(
        project.logs,
        "predictions",
        "SELECT l.request_id, l.row, l.prediction, f.label FROM log l "
        "JOIN feedback f USING (request_id, row) ORDER BY l.request_id, l.row",
    )
    assert len(joined) == 122
    accuracy = read_log(
        project.logs,
        "predictions",
        "SELECT avg(CASE WHEN l.prediction = f.label THEN 1.0 ELSE 0.0 END) AS accuracy "
        "FROM log l JOIN feedback f USING (request_id, row)",
    )["accuracy"][0]
    expected = [p == t for p, t in zip(registered.labels["1"], truth, strict=True)]
    assert accuracy == pytest.approx((sum(expected) + sum(expected[:2])) / 122)
    feedback = read_log(project.logs, "feedback")
    assert set(feedback.columns) >= {"time", "request_id", "row", "label", "model"}


async def test_labels_for_ids_never_issued_or_labelled_before_are_not_kept(
    serve: Any, project: Any, registered: Any
) -> None:
    async with serve() as s:
        response = await s.client.post(
            "/predict",
            json={"instances": registered.lists(slice(0, 2))},
            headers={"x-request-id": "mine"},
        )
        issued = response.json()["request_id"]
        forged = ("0" * 24) + issued[24:]  # the signature of another random part
        labels = [
            {"request_id": issued, "row": 0, "label": 1},
            {"request_id": issued, "row": 0, "label": 0},  # the same row again
            {"request_id": "mine", "label": 1},  # the client's own id: not the request's
            {"request_id": forged, "label": 1},
            {"request_id": issued.upper(), "label": 1},
        ]
        first = await s.client.post("/feedback", json={"feedback": labels})
        again = await s.client.post(
            "/feedback", json={"feedback": [{"request_id": issued, "row": 1, "label": 0}] * 2}
        )
        metrics = (await s.client.get("/metrics")).text
    assert first.status_code == again.status_code == 200
    assert first.json() == {"accepted": 1, "unknown": 3, "duplicate": 1}
    assert again.json() == {"accepted": 1, "unknown": 0, "duplicate": 1}
    for outcome, count in (("accepted", 2), ("unknown", 3), ("duplicate", 2)):
        line = f'mlgate_feedback_labels_total{{model="credit-risk",outcome="{outcome}"}} {count}.0'
        assert line in metrics
    kept = read_log(project.logs, "feedback", "SELECT request_id, row, label FROM log ORDER BY row")
    assert kept.to_dict("records") == [
        {"request_id": issued, "row": 0, "label": "1"},
        {"request_id": issued, "row": 1, "label": "0"},
    ]


async def test_a_label_names_a_class_by_value_and_is_kept_as_predictions_show_it(
    serve: Any, project: Any, registered: Any
) -> None:
    # pandas makes a label column of 0 and 1 float as soon as one value is missing.
    async with serve() as s:
        response = await s.client.post(
            "/predict", json={"instances": registered.lists(slice(0, 3))}
        )
        issued = response.json()["request_id"]
        labels = [
            {"request_id": issued, "row": 0, "label": 0.0},
            {"request_id": issued, "row": 1, "label": "1.0"},
            {"request_id": issued, "row": 2, "label": 1},
        ]
        sent = await s.client.post("/feedback", json={"feedback": labels})
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"accepted": 3, "unknown": 0, "duplicate": 0}
    kept = read_log(project.logs, "feedback", "SELECT row, label FROM log ORDER BY row")
    assert kept.to_dict("records") == [
        {"row": 0, "label": "0"},
        {"row": 1, "label": "1"},
        {"row": 2, "label": "1"},
    ]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"labels": []},
            400,
            'expected {"feedback": [{"request_id": "...", "label": ...}, ...]}',
        ),
        (
            {"feedback": []},
            400,
            'expected {"feedback": [{"request_id": "...", "label": ...}, ...]}',
        ),
        (
            {"feedback": ["r1:1"]},
            422,
            'feedback[0] must be an object {"request_id": ..., "label": ...}',
        ),
        (
            {"feedback": [{"label": 1}]},
            422,
            "feedback[0].request_id must be the request id a prediction answered with "
            "(x-request-id, 1 to 128 characters); got null",
        ),
        (
            {"feedback": [{"request_id": "r" * 129, "label": 1}]},
            422,
            "feedback[0].request_id must be the request id a prediction answered with "
            f'(x-request-id, 1 to 128 characters); got "{"r" * 56}...',
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 1}, {"request_id": "r2"}]},
            422,
            "feedback[1].label must be the true label, a string or a finite number; got null",
        ),
        (
            {"feedback": [{"request_id": "r1", "label": True}]},
            422,
            "feedback[0].label must be the true label, a string or a finite number; got true",
        ),
        (
            {"feedback": [{"request_id": "r1", "label": [1]}]},
            422,
            "feedback[0].label must be the true label, a string or a finite number; got [1]",
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 1}, {"request_id": "r2", "label": "yes"}]},
            422,
            'feedback[1].label "yes" is not a class the model predicts; send one of: 0, 1',
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 0.5}]},
            422,
            "feedback[0].label 0.5 is not a class the model predicts; send one of: 0, 1",
        ),
        (
            {"feedback": [{"request_id": "r1", "label": "1.5"}]},
            422,
            'feedback[0].label "1.5" is not a class the model predicts; send one of: 0, 1',
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 1, "row": -1}]},
            422,
            "feedback[0].row must be the row's position in its request, an integer from 0 "
            "to 9999; got -1",
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 1, "row": 18446744073709551615}]},
            422,
            "feedback[0].row must be the row's position in its request, an integer from 0 "
            "to 9999; got 18446744073709551615",
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 1, "row": "0"}]},
            422,
            "feedback[0].row must be the row's position in its request, an integer from 0 "
            'to 9999; got "0"',
        ),
        (
            {"feedback": [{"request_id": "r1", "label": 1}] * 10_001},
            413,
            "the request has 10001 labels; at most 10000 are accepted per request "
            "(MLGATE_MAX_BATCH_ROWS): split it into smaller requests",
        ),
    ],
)
async def test_bad_feedback_is_refused(
    kit: Any, gateway: Any, body: Any, status: int, error: str
) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/feedback", json=body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert gateway.feedback.records == 0


async def test_an_infinite_label_is_refused(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post(
            "/feedback",
            content=b'{"feedback": [{"request_id": "r1", "label": 1e999}]}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422
    assert response.json()["error"] == (
        "feedback[0].label must be the true label, a string or a finite number; got inf"
    )


def test_a_segment_that_cannot_be_stored_is_tried_again_not_lost(tmp_path: Any) -> None:
    # The log folder is a file: no segment can be stored, and the spool keeps the labels.
    blocked = tmp_path / "logs"
    blocked.write_text("not a folder", encoding="utf-8")
    spool = Spool(str(tmp_path / "spool"), "feedback")
    converter = Converter(str(tmp_path / "spool"), str(blocked))
    labels = [b'{"t":1,"id":"%s","row":0,"label":"1","m":"m"}\n' % i for i in (b"a", b"b")]
    for line in labels:
        spool.write(line)
    spool.rotate()
    assert converter.run_once() == 0
    status = converter.status["feedback"]
    assert status["failures"] == 1
    assert status["pending_bytes"] == len(b"".join(labels))  # in the spool still
    assert status["failing_since"] is not None
    assert status["last_error"].startswith("cannot store a segment: ")
    blocked.unlink()
    spool.write(b'{"t": 2, "id": "c", "row": 0, "label": "0", "m": "m"}\n')
    spool.close()
    assert converter.run_once() == 3
    assert converter.status["feedback"]["failing_since"] is None
    log = read_log(str(blocked), "feedback", "SELECT request_id FROM log ORDER BY 1")
    assert log["request_id"].tolist() == ["a", "b", "c"]


def test_reading_a_log_never_written_gives_an_empty_frame(tmp_path: Any) -> None:
    assert read_log(str(tmp_path / "nothing"), "predictions").empty
