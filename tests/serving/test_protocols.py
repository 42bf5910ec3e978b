"""The protocols users already speak, answering exactly what the model itself predicts.

Every prediction below is compared with the registered version's own
scikit-learn predictions on the project's real test set (data/test.csv).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


@pytest.fixture
def serve(kit: Any, gateway: Any) -> Any:
    """`async with serve() as s:` a client of the module's gateway (no background work)."""
    return lambda: kit.running(gateway, lifespan=False)


MODEL = "credit-risk"
INFER = f"/v2/models/{MODEL}/infer"


#: ONNX Runtime computes the forest in 32-bit floats: labels are exactly scikit-learn's (the
#: export is kept only then), but a row near a split threshold can fall on the other side in
#: a tree or two, moving a probability by 0.01 per tree (of 100).
PROBABILITY_TOLERANCE = 0.05


def _label(response: Any) -> list[Any]:
    body = response.json()
    (label,) = [o for o in body["outputs"] if o["name"] == "label"]
    return list(label["data"])


# --- Open Inference Protocol (KServe V2) --------------------------------------------------


async def test_v2_one_tensor_of_rows_in_feature_order(serve: Any, registered: Any) -> None:
    rows = registered.lists()
    body = {
        "id": "batch-1",
        "inputs": [{"name": "input", "shape": [len(rows), 6], "datatype": "BYTES", "data": rows}],
    }
    async with serve() as s:
        response = await s.client.post(INFER, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == MODEL
    assert answer["model_version"] == "1"
    assert answer["id"] == "batch-1"
    assert response.headers["x-mlgate-version"] == "1"
    assert _label(response) == registered.labels["1"]
    (label, probabilities) = answer["outputs"]
    assert label == {"name": "label", "shape": [120], "datatype": "INT64", "data": label["data"]}
    assert probabilities["shape"] == [120, 2]
    assert probabilities["datatype"] == "FP64"
    got = np.asarray(probabilities["data"]).reshape(120, 2)
    np.testing.assert_allclose(got, registered.probabilities["1"], atol=PROBABILITY_TOLERANCE)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)


async def test_v2_numbers_sent_as_text_in_a_bytes_tensor(serve: Any, registered: Any) -> None:
    # What a client sends when one tensor holds numbers and words: every value as text.
    rows = [["nan" if v is None else str(v) for v in row] for row in registered.lists()]
    flat = [value for row in rows for value in row]
    body = {"inputs": [{"name": "x", "shape": [len(rows), 6], "datatype": "BYTES", "data": flat}]}
    async with serve() as s:
        response = await s.client.post(INFER, json=body)
    assert response.status_code == 200, response.text
    assert _label(response) == registered.labels["1"]


@pytest.mark.parametrize("shape", ["flat", "column"])
async def test_v2_one_tensor_per_named_feature(serve: Any, registered: Any, shape: str) -> None:
    columns = registered.columns()
    n = len(registered.test)
    datatypes = {
        "age": "INT64",
        "income": "FP64",
        "debt_ratio": "FP32",
        "credit_score": "INT64",
        "employment": "BYTES",
        "region": "BYTES",
    }
    # FP32 data as a float32 client holds it: the number nearest in single precision.
    columns["debt_ratio"] = [float(np.float32(v)) for v in columns["debt_ratio"]]
    inputs = [
        {
            "name": name,
            "shape": [n] if shape == "flat" else [n, 1],
            "datatype": datatypes[name],
            "data": columns[name] if shape == "flat" else [[v] for v in columns[name]],
        }
        for name in reversed(registered.features)  # any order: matched by name
    ]
    async with serve() as s:
        response = await s.client.post(INFER, json={"inputs": inputs})
    assert response.status_code == 200, response.text
    assert _label(response) == registered.labels["1"]


async def test_v2_requested_outputs_only(serve: Any, registered: Any) -> None:
    rows = registered.lists(slice(0, 5))
    tensor = {"name": "input", "shape": [5, 6], "datatype": "BYTES", "data": rows}
    async with serve() as s:
        only = await s.client.post(
            INFER, json={"inputs": [tensor], "outputs": [{"name": "probabilities"}]}
        )
        label = await s.client.post(
            INFER,
            json={"inputs": [tensor], "outputs": [{"name": "label", "parameters": {}}]},
        )
        unknown = await s.client.post(
            INFER, json={"inputs": [tensor], "outputs": [{"name": "scores"}]}
        )
        malformed = await s.client.post(
            INFER, json={"inputs": [tensor], "outputs": [{"name": ["label"]}]}
        )
    assert [o["name"] for o in only.json()["outputs"]] == ["probabilities"]
    assert [o["name"] for o in label.json()["outputs"]] == ["label"]
    assert label.json()["outputs"][0]["data"] == registered.labels["1"][:5]
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": "unknown output(s): 'scores'; this model gives: label, probabilities",
        "detail": {"code": "unknown_output"},
    }
    assert malformed.status_code == 400
    assert malformed.json()["error"] == (
        'outputs must be a list of {"name": ...} objects; this model gives: label, probabilities'
    )


async def test_v2_metadata_health_and_ready(serve: Any, registered: Any) -> None:
    async with serve() as s:
        server = await s.client.get("/v2")
        live = await s.client.get("/v2/health/live")
        ready = await s.client.get("/v2/health/ready")
        model = await s.client.get(f"/v2/models/{MODEL}")
        model_ready = await s.client.get(f"/v2/models/{MODEL}/ready")
    assert server.status_code == 200
    assert server.json()["name"] == "mlgate"
    assert live.json() == {"live": True}
    assert ready.json() == {"ready": True}
    assert model_ready.json() == {"name": MODEL, "ready": True}
    metadata = model.json()
    assert metadata["name"] == MODEL
    assert metadata["versions"] == ["1", "2"]
    assert [i["name"] for i in metadata["inputs"]] == registered.features
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]} == {
        "age": "INT64",
        "income": "FP64",
        "debt_ratio": "FP64",
        "credit_score": "INT64",
        "employment": "BYTES",
        "region": "BYTES",
    }
    assert metadata["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert metadata["parameters"] == {"task": "classification", "classes": [0, 1]}
    assert model.headers["x-mlgate-version"] == "1"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/fraud"),
        ("GET", "/v2/models/fraud/ready"),
        ("POST", "/v2/models/fraud/infer"),
    ],
)
async def test_v2_unknown_model_is_404(serve: Any, method: str, path: str) -> None:
    async with serve() as s:
        response = await s.client.request(method, path, json={"inputs": []})
    assert response.status_code == 404
    assert response.json() == {
        "error": "unknown model 'fraud'; this gateway serves 'credit-risk'",
        "detail": {"code": "unknown_model"},
    }


# --- a stock Open Inference Protocol client against a real uvicorn on 127.0.0.1 --------------


def test_stock_tritonclient_against_a_real_server(kit: Any, project: Any, registered: Any) -> None:
    httpclient = pytest.importorskip("tritonclient.http")
    with kit.in_thread(kit.make_gateway(project)) as url:  # its own: uvicorn runs the lifespan
        _talk_like_triton(httpclient, url, registered)


def _talk_like_triton(httpclient: Any, url: str, registered: Any) -> None:
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready(MODEL)
        assert client.get_server_metadata()["name"] == "mlgate"
        metadata = client.get_model_metadata(MODEL)
        assert [i["name"] for i in metadata["inputs"]] == registered.features

        # One BYTES tensor, [rows, features], the whole test set (missing income as "nan").
        frame = registered.test[registered.features]
        values = frame.astype(object).to_numpy()
        tensor = httpclient.InferInput("input", list(values.shape), "BYTES")
        tensor.set_data_from_numpy(values, binary_data=False)
        outputs = [
            httpclient.InferRequestedOutput("label", binary_data=False),
            httpclient.InferRequestedOutput("probabilities", binary_data=False),
        ]
        result = client.infer(MODEL, [tensor], outputs=outputs, request_id="stock-1")
        assert result.as_numpy("label").tolist() == registered.labels["1"]
        np.testing.assert_allclose(
            result.as_numpy("probabilities"),
            registered.probabilities["1"],
            atol=PROBABILITY_TOLERANCE,
        )
        response = result.get_response()
        assert response["model_version"] == "1"
        assert response["id"] == "stock-1"

        # One tensor per feature, typed as a numpy client holds the columns.
        complete = frame[frame["income"].notna()]
        typed = {
            "age": ("INT64", complete["age"].to_numpy(np.int64)),
            "income": ("FP64", complete["income"].to_numpy(np.float64)),
            "debt_ratio": ("FP32", complete["debt_ratio"].to_numpy(np.float32)),
            "credit_score": ("INT64", complete["credit_score"].to_numpy(np.int64)),
            "employment": ("BYTES", complete["employment"].to_numpy(object)),
            "region": ("BYTES", complete["region"].to_numpy(object)),
        }
        inputs = []
        for name, (datatype, data) in typed.items():
            one = httpclient.InferInput(name, [len(data), 1], datatype)
            one.set_data_from_numpy(data.reshape(-1, 1), binary_data=False)
            inputs.append(one)
        result = client.infer(
            MODEL, inputs, outputs=[httpclient.InferRequestedOutput("label", binary_data=False)]
        )
        keep = registered.test["income"].notna().to_numpy()
        expected = np.asarray(registered.labels["1"])[keep].tolist()
        assert result.as_numpy("label").tolist() == expected
        assert result.as_numpy("probabilities") is None

        # A named version: exactly that one answers, whatever the split (none here).
        label = [httpclient.InferRequestedOutput("label", binary_data=False)]
        for version in ("1", "2"):
            assert client.is_model_ready(MODEL, model_version=version)
            pinned = client.get_model_metadata(MODEL, model_version=version)
            assert pinned["versions"] == [version]
            result = client.infer(MODEL, [tensor], outputs=label, model_version=version)
            assert result.as_numpy("label").tolist() == registered.labels[version]
            assert result.get_response()["model_version"] == version
        with pytest.raises(Exception, match="version '9' of 'credit-risk' is not served here"):
            client.infer(MODEL, [tensor], outputs=label, model_version="9")
    finally:
        client.close()


# --- MLflow's scoring protocol ---------------------------------------------------------------


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
    assert body["predictions"] == registered.labels["1"]
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
            assert response.json()["predictions"] == registered.labels["1"]
        # The same route, fast path off: FastAPI's routing reads CSV alike.
        s.app.fast_path = None
        again = await s.client.post(
            "/invocations", content=text.encode(), headers={"content-type": "text/csv"}
        )
        assert again.json()["predictions"] == registered.labels["1"]


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


# --- plain JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["lists", "records"])
async def test_predict_with_lists_and_records(serve: Any, registered: Any, form: str) -> None:
    instances = registered.lists() if form == "lists" else registered.records()
    async with serve() as s:
        response = await s.client.post(
            "/predict", json={"instances": instances}, headers={"x-request-id": "mine-1"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == registered.labels["1"]
    assert body["model"] == MODEL
    assert body["version"] == response.headers["x-mlgate-version"] == "1"
    assert body["request_id"] == response.headers["x-request-id"] == "mine-1"
    assert body["classes"] == [0, 1]
    np.testing.assert_allclose(
        body["probabilities"], registered.probabilities["1"], atol=PROBABILITY_TOLERANCE
    )


async def test_every_prediction_response_names_its_version(serve: Any, registered: Any) -> None:
    rows = registered.lists(slice(0, 3))
    async with serve() as s:
        responses = [
            await s.client.post("/predict", json={"instances": rows}),
            await s.client.post("/invocations", json={"instances": rows}),
            await s.client.post(
                INFER,
                json={
                    "inputs": [{"name": "x", "shape": [3, 6], "datatype": "BYTES", "data": rows}]
                },
            ),
        ]
    for response in responses:
        assert response.status_code == 200
        assert response.headers["x-mlgate-version"] == "1"
        assert response.headers["x-mlgate-role"] == "champion"
        body = response.json()
        assert body.get("version", body.get("model_version")) == "1"


async def test_openapi_lists_every_route(serve: Any) -> None:
    async with serve() as s:
        document = (await s.client.get("/openapi.json")).json()
        routes = {
            (method.lower(), route.path)
            for route in s.app.routes
            for method in getattr(route, "methods", ())
            if route.path not in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
            and method != "HEAD"
        }
    documented = {(m, path) for path, item in document["paths"].items() for m in item}
    assert routes == documented
    for path in ("/predict", "/invocations", INFER.replace(MODEL, "{model_name}"), "/feedback"):
        body = document["paths"][path]["post"]["requestBody"]
        assert "application/json" in body["content"], path
    assert {"/metrics", "/admin/rollout", "/admin/promote", "/admin/rollback"} <= set(
        document["paths"]
    )
