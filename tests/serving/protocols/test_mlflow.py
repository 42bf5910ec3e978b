"""MLflow's scoring protocol, answering exactly what the model itself predicts.

Every prediction below is compared with the registered version's own
scikit-learn predictions on the project's real test set (data/test.csv).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from serving.requests import LIST, MODEL, ROW, labels_of, mlflow_error

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}


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
        (b"age,age\n1,2\n", 400, "the CSV header names 'age' more than once"),
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
        (b"age,income\n1\n", 400, "CSV row 0 has 1 value(s) but the header names 2"),
    ],
)
async def test_mlflow_csv_refusals(serve: Any, text: bytes, status: int, message: str) -> None:
    async with serve() as s:
        response = await s.client.post(
            "/invocations", content=text, headers={"content-type": "text/csv"}
        )
    assert response.status_code == status
    assert response.json()["message"] == message
    assert response.json()["error_code"] == "BAD_REQUEST"


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
    assert response.status_code == 400
    assert response.json()["message"] == "feature 'age' in row 1 must be a number, got \"old\""
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("missing feature(s): income")


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
            assert response.json()["message"] == (
                "expected exactly one of dataframe_split, dataframe_records, instances or inputs"
            )


async def test_mlflow_split_rows_must_match_the_columns(kit: Any, gateway: Any) -> None:
    body = {"dataframe_split": {"columns": list(ROW), "data": [LIST, LIST[:4]]}}
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/invocations", json=body)
    assert response.status_code == 400
    assert response.json() == mlflow_error(
        "dataframe_split.data must be a list of rows of 6 value(s), one per column; row 1 has 4",
        "bad_body",
        row=1,
    )
    body = {"dataframe_split": {"columns": [*ROW, "age"], "data": [[*LIST, 3]]}}
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/invocations", json=body)
    assert response.json() == mlflow_error(
        "dataframe_split.columns names 'age' more than once", "wrong_features", feature="age"
    )


# --- what MLflow's own clients send ------------------------------------------------------


def test_mlflow_scoring_client_against_a_real_server(
    kit: Any, project: Any, registered: Any
) -> None:
    # MLflow's ScoringServerClient writes a DataFrame as dataframe_split with json.dumps:
    # a missing value is the bare token NaN. An id column the model does not use is
    # ignored, as MLflow's server ignores it, and counted.
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    frame = registered.test[registered.features].copy()
    assert frame["income"].isna().any(), "the test set should have missing incomes to send"
    frame.insert(0, "customer_id", range(1000, 1000 + len(frame)))
    with kit.in_thread(kit.make_gateway(project)) as url:
        host, port = url.removeprefix("http://").split(":")
        client = ScoringServerClient(host, int(port))
        client.wait_server_ready(timeout=10)
        answer = client.invoke(frame)
        assert labels_of(answer) == registered.labels["1"]
        assert answer.get_predictions()["label"].tolist() == registered.labels["1"]
        assert answer["ignored_columns"] == ["customer_id"]
        bad = frame.head(2).astype({"age": object})
        bad.loc[1, "age"] = "old"
        with pytest.raises(Exception, match=r"error code 400.*\"error_code\": ?\"BAD_REQUEST\""):
            client.invoke(bad)
        import httpx

        metrics = httpx.get(f"{url}/metrics").text
    assert f'mlgate_ignored_columns_total{{model="{MODEL}",route="invocations"}} 1.0' in metrics


async def test_mlflow_refusals_have_mlflow_shape_and_status(serve: Any) -> None:
    body = {"dataframe_records": [ROW | {"age": "old"}]}
    async with serve() as s:
        response = await s.client.post("/invocations", json=body)
        s.app.fast_path = None  # FastAPI's routing answers alike
        again = await s.client.post("/invocations", json=body)
    for answered in (response, again):
        assert answered.status_code == 400
        assert answered.json() == mlflow_error(
            "feature 'age' in row 0 must be a number, got \"old\"",
            "not_a_number",
            row=0,
            feature="age",
        )


async def test_mlflow_reads_nan_as_missing_and_infinity_as_infinite(
    serve: Any, registered: Any
) -> None:
    records = registered.records(slice(0, 5))
    text = json.dumps({"dataframe_records": [r | {"income": math.nan} for r in records]})
    infinite = json.dumps({"dataframe_records": [records[0] | {"income": math.inf}]})
    async with serve() as s:
        nan = await s.client.post("/invocations", content=text, headers=JSON)
        missing = await s.client.post(
            "/invocations", json={"dataframe_records": [r | {"income": None} for r in records]}
        )
        inf = await s.client.post("/invocations", content=infinite, headers=JSON)
        elsewhere = await s.client.post("/predict", content=text, headers=JSON)
    assert nan.status_code == 200, nan.text
    assert nan.json()["predictions"] == missing.json()["predictions"]
    assert inf.status_code == 400
    assert inf.json()["message"].startswith("feature 'income' in row 0 is infinite")
    assert elsewhere.status_code == 400  # only MLflow's route reads Python's words


async def test_mlflow_older_clients_pandas_formats(serve: Any, registered: Any) -> None:
    frame = registered.test[registered.features].head(20)
    split = frame.to_json(orient="split")
    records = frame.to_json(orient="records")
    async with serve() as s:
        by_split = await s.client.post(
            "/invocations",
            content=split,
            headers={"content-type": "application/json; format=pandas-split"},
        )
        by_records = await s.client.post(
            "/invocations",
            content=records,
            headers={"content-type": "application/json; format=pandas-records"},
        )
        unknown = await s.client.post(
            "/invocations",
            content=split,
            headers={"content-type": "application/json; format=pandas-table"},
        )
    assert by_split.status_code == 200, by_split.text
    assert labels_of(by_split.json()) == registered.labels["1"][:20]
    assert labels_of(by_records.json()) == registered.labels["1"][:20]
    assert unknown.status_code == 415
    assert unknown.json()["message"] == (
        "the Content-Type's format 'pandas-table' is not one this route takes; one of "
        "pandas-split, pandas-records, or none"
    )


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (
            "application/vnd.apache.parquet",
            "the body is sent with Content-Type 'application/vnd.apache.parquet'; send it as "
            "application/json (or text/csv)",
        ),
        (
            "application/json; charset=latin-1",
            "the body is sent with charset 'latin-1'; the gateway reads only UTF-8: send it "
            "encoded as UTF-8",
        ),
        (
            "text/csv; charset=ISO-8859-1",
            "the body is sent with charset 'iso-8859-1'; the gateway reads only UTF-8: send it "
            "encoded as UTF-8",
        ),
    ],
)
async def test_mlflow_unsupported_type_or_charset_is_415(
    serve: Any, content_type: str, message: str
) -> None:
    body = json.dumps({"dataframe_records": [ROW | {"region": "sür"}]}).encode("latin-1")
    async with serve() as s:
        response = await s.client.post(
            "/invocations", content=body, headers={"content-type": content_type}
        )
    assert response.status_code == 415
    assert response.json()["message"] == message


async def test_mlflow_csv_with_the_index_pandas_writes(serve: Any, registered: Any) -> None:
    # df.to_csv() writes the index first, under an empty name: MLflow's server reads it
    # as a column ("Unnamed: 0") the model does not use, and ignores it.
    frame = registered.test[registered.features]
    async with serve() as s:
        response = await s.client.post(
            "/invocations", content=frame.to_csv().encode(), headers={"content-type": "text/csv"}
        )
    assert response.status_code == 200, response.text
    assert labels_of(response.json()) == registered.labels["1"]
    assert response.json()["ignored_columns"] == [""]


async def test_mlflow_names_twenty_ignored_columns_and_counts_the_rest(
    serve: Any, registered: Any
) -> None:
    frame = registered.test[registered.features].head(3)
    extra = pd.DataFrame({f"extra_{i}": [1] * 3 for i in range(500)}, index=frame.index)
    async with serve() as s:
        response = await s.client.post(
            "/invocations",
            content=pd.concat([frame, extra], axis=1).to_csv(index=False).encode(),
            headers={"content-type": "text/csv"},
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ignored_columns"] == [f"extra_{i}" for i in range(20)]
    assert answer["ignored_columns_total"] == 500
