"""MLflow's scoring protocol, answering exactly what the model itself predicts.

Every prediction below is compared with the registered version's own
scikit-learn predictions on the project's real test set (data/test.csv).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from serving.requests import LIST, MODEL, ROW, error, labels_of

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


@pytest.fixture
def serve(kit: Any, gateway: Any) -> Any:
    """`async with serve() as s:` a client of the module's gateway (no background work)."""
    return lambda: kit.running(gateway, lifespan=False)


def _mlflow_bodies(registered: Any) -> dict[str, Any]:
    records = registered.records()
    return {
        "dataframe_split": {
            "dataframe_split": {
                "columns": registered.features,
                "data": registered.lists(),
                "index": list(range(len(records))),
            }
        },
        "dataframe_records": {"dataframe_records": records},
        "instances as lists": {"instances": registered.lists()},
        "instances as records": {"instances": records},
        "inputs as columns": {"inputs": registered.columns()},
        "inputs as records": {"inputs": records},
        "inputs as lists": {"inputs": registered.lists()},
    }


@pytest.mark.parametrize(
    "form",
    [
        "dataframe_split",
        "dataframe_records",
        "instances as lists",
        "instances as records",
        "inputs as columns",
        "inputs as records",
        "inputs as lists",
    ],
)
async def test_mlflow_invocations(serve: Any, registered: Any, form: str) -> None:
    async with serve() as s:
        response = await s.client.post("/invocations", json=_mlflow_bodies(registered)[form])
    assert response.status_code == 200, response.text
    body = response.json()
    assert labels_of(body) == registered.labels["1"]
    probabilities = [row["probabilities"] for row in body["predictions"]]
    np.testing.assert_allclose(probabilities, registered.probabilities["1"], atol=0.05)
    assert body["version"] == response.headers["x-mlgate-version"] == "1"
    assert body["model"] == MODEL
    assert body["request_id"] == response.headers["x-request-id"]


async def test_mlflow_invocations_as_csv(serve: Any, registered: Any) -> None:
    """What an MLflow client sends for a DataFrame as text/csv (missing values empty)."""
    features = registered.test.drop(columns=["default"])
    assert features.isna().any().any(), "the test set should have missing values to send"
    text = features.to_csv(index=False)
    async with serve() as s:
        for content_type in ("text/csv", "text/csv; charset=utf-8"):
            response = await s.client.post(
                "/invocations", content=text.encode(), headers={"content-type": content_type}
            )
            assert response.status_code == 200, response.text
            assert labels_of(response.json()) == registered.labels["1"]
        # The same route, fast path off: FastAPI's routing reads CSV alike.
        s.app.fast_path = None
        again = await s.client.post(
            "/invocations", content=text.encode(), headers={"content-type": "text/csv"}
        )
        assert again.json() | {"request_id": None} == response.json() | {"request_id": None}


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        (b"", 400, "the CSV body is empty; send a header of feature names, then rows"),
        (b"\xff\xfe", 400, "the CSV body is not UTF-8 text (byte 0)"),
        (b'age,"income\n1,2', 400, "the CSV body cannot be read: unexpected end of data"),
        (b"age,age\n1,2\n", 422, "the CSV header names 'age' more than once"),
        (
            b"22,52200.0\n",
            400,
            "the CSV's first line is read as the header of feature names, and it names none "
            "of the model's features; send a header (age, income, debt_ratio, credit_score, "
            "employment, region), then one line per row",
        ),
        (
            b"age,income\n",
            400,
            "the CSV has a header but no row after it; send a header (age, income, "
            "debt_ratio, credit_score, employment, region), then one line per row",
        ),
        (b"age,income\n1\n", 422, "CSV row 0 has 1 value(s) but the header names 2"),
    ],
)
async def test_mlflow_csv_refusals(serve: Any, text: bytes, status: int, message: str) -> None:
    async with serve() as s:
        response = await s.client.post(
            "/invocations", content=text, headers={"content-type": "text/csv"}
        )
    assert response.status_code == status
    assert response.json()["error"] == message


async def test_mlflow_csv_checks_values_like_json(serve: Any, registered: Any) -> None:
    features = registered.test.drop(columns=["default"]).head(3).copy()
    features["age"] = features["age"].astype(object)
    features.loc[1, "age"] = "old"
    async with serve() as s:
        response = await s.client.post(
            "/invocations",
            content=features.to_csv(index=False).encode(),
            headers={"content-type": "text/csv"},
        )
        missing = await s.client.post(
            "/invocations", content=b"age\n40\n", headers={"content-type": "text/csv"}
        )
    assert response.status_code == 422
    assert response.json()["error"] == "feature 'age' in row 1 must be a number, got \"old\""
    assert missing.status_code == 422
    assert missing.json()["error"].startswith("missing feature(s): income")


async def test_mlflow_health_routes(serve: Any) -> None:
    async with serve() as s:
        ping = await s.client.get("/ping")
        health = await s.client.get("/health")
        version = await s.client.get("/version")
    assert ping.json() == {"status": "ok"}
    assert health.json()["champion"] == "1"
    assert health.json()["challenger"] == "2"
    assert version.json()["version"] == "1"


async def test_mlflow_needs_exactly_one_input_key(serve: Any, registered: Any) -> None:
    both = {"instances": registered.lists(slice(0, 1)), "inputs": registered.lists(slice(0, 1))}
    async with serve() as s:
        for body in (both, {"rows": []}, []):
            response = await s.client.post("/invocations", json=body)
            assert response.status_code == 400
            assert response.json()["error"] == (
                "expected exactly one of dataframe_split, dataframe_records, instances or inputs"
            )


async def test_mlflow_split_rows_must_match_the_columns(kit: Any, gateway: Any) -> None:
    body = {"dataframe_split": {"columns": list(ROW), "data": [LIST, LIST[:4]]}}
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/invocations", json=body)
    assert response.status_code == 400
    assert response.json() == error(
        "dataframe_split.data must be a list of rows of 6 value(s), one per column; row 1 has 4",
        "bad_body",
        row=1,
    )
    body = {"dataframe_split": {"columns": [*ROW, "age"], "data": [[*LIST, 3]]}}
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/invocations", json=body)
    assert response.json() == error(
        "dataframe_split.columns names 'age' more than once", "wrong_features", feature="age"
    )
