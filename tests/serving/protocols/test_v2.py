"""The Open Inference Protocol (KServe V2), answering exactly what the model itself predicts.

Every prediction below is compared with the registered version's own
scikit-learn predictions on the project's real test set (data/test.csv).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from serving.requests import MODEL, error

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    """One gateway for the module: these tests only read."""
    return kit.make_gateway(module_project)


@pytest.fixture
def serve(kit: Any, gateway: Any) -> Any:
    """`async with serve() as s:` a client of the module's gateway (no background work)."""
    return lambda: kit.running(gateway, lifespan=False)


INFER = f"/v2/models/{MODEL}/infer"


#: ONNX Runtime computes the forest in 32-bit floats: labels are exactly scikit-learn's (the
#: export is kept only then), but a row near a split threshold can fall on the other side in
#: a tree or two, moving a probability by 0.01 per tree (of 100).
PROBABILITY_TOLERANCE = 0.05


def _label(response: Any) -> list[Any]:
    body = response.json()
    (label,) = [o for o in body["outputs"] if o["name"] == "label"]
    return list(label["data"])


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


async def test_v2_metadata_health_and_ready(serve: Any, registered: Any, gateway: Any) -> None:
    # No watcher polls this module's gateway: its last read of the store is this load.
    await asyncio.to_thread(gateway.load)
    async with serve() as s:
        server = await s.client.get("/v2")
        live = await s.client.get("/v2/health/live")
        ready = await s.client.get("/v2/health/ready")
        model = await s.client.get(f"/v2/models/{MODEL}")
        model_ready = await s.client.get(f"/v2/models/{MODEL}/ready")
    assert server.status_code == 200
    assert server.json()["name"] == "mlgate"
    assert live.json() == {"live": True}
    assert ready.json()["ready"] is True
    assert ready.json()["log"]["ready"] is True  # the log's state: see test_log_health.py
    # The split served is the store's current one (cut from the store: tests/fleet).
    assert ready.json()["state"]["current"] is True
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


async def test_an_unknown_model_is_404(kit: Any, gateway: Any) -> None:
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/v2/models/credit_risk/infer", json={"inputs": []})
    assert response.status_code == 404
    assert response.json() == error(
        "unknown model 'credit_risk'; this gateway serves 'credit-risk'", "unknown_model"
    )


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


def test_tritonclient_defaults_binary_tensors_both_ways(
    kit: Any, project: Any, registered: Any
) -> None:
    # tritonclient's defaults: every input as binary data after the JSON
    # (Inference-Header-Content-Length), and with no outputs named, every output as binary.
    httpclient = pytest.importorskip("tritonclient.http")
    import httpx

    frame = registered.test[registered.features]
    complete = frame[frame["income"].notna()]
    keep = registered.test["income"].notna().to_numpy()
    expected = np.asarray(registered.labels["1"])[keep].tolist()
    typed = {
        "age": complete["age"].to_numpy(np.int64),
        "income": complete["income"].to_numpy(np.float64),
        "debt_ratio": complete["debt_ratio"].to_numpy(np.float32),
        "credit_score": complete["credit_score"].to_numpy(np.int32),
        "employment": complete["employment"].to_numpy(object),
        "region": complete["region"].to_numpy(object),
    }
    with kit.in_thread(kit.make_gateway(project)) as url:
        client = httpclient.InferenceServerClient(url.removeprefix("http://"))
        try:
            inputs = []
            for name, data in typed.items():
                datatype = httpclient.np_to_triton_dtype(data.dtype)
                one = httpclient.InferInput(name, [len(data)], datatype)
                one.set_data_from_numpy(data)  # binary_data=True, the default
                inputs.append(one)
            result = client.infer(MODEL, inputs)
            assert result.get_output("label")["parameters"]["binary_data_size"] == 8 * len(data)
            assert result.as_numpy("label").tolist() == expected
            np.testing.assert_allclose(
                result.as_numpy("probabilities"),
                registered.probabilities["1"][keep],
                atol=PROBABILITY_TOLERANCE,
            )
            # One BYTES tensor of rows, binary; one output asked for as JSON, one binary.
            values = frame.astype(object).to_numpy()
            rows = httpclient.InferInput("input", list(values.shape), "BYTES")
            rows.set_data_from_numpy(values)
            outputs = [
                httpclient.InferRequestedOutput("label", binary_data=False),
                httpclient.InferRequestedOutput("probabilities"),
            ]
            result = client.infer(MODEL, [rows], outputs=outputs, model_version="2")
            assert result.get_output("label")["data"] == registered.labels["2"]
            assert result.get_output("probabilities")["parameters"]["binary_data_size"] == (
                8 * 2 * len(values)
            )
            assert result.as_numpy("label").tolist() == registered.labels["2"]
            config = client.get_model_config(MODEL)
            assert [i["name"] for i in config["input"]] == registered.features
            assert config["input"][0] == {"name": "age", "data_type": "TYPE_INT64", "dims": [-1]}
            assert client.get_model_config(MODEL, model_version="2")["version_policy"] == {
                "specific": {"versions": ["2"]}
            }
            assert client.get_model_repository_index() == [
                {"name": MODEL, "version": v, "state": "READY"} for v in ("1", "2")
            ]
            assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        finally:
            client.close()
        assert httpx.get(f"{url}/v2/models").json() == {"models": [MODEL]}


async def test_binary_data_refusals_say_what_is_wrong(serve: Any) -> None:
    head = {"inputs": [{"name": "input", "shape": [1, 6], "datatype": "FP64"}]}
    head["inputs"][0]["parameters"] = {"binary_data_size": 48}
    text = json.dumps(head).encode()
    size = {"inference-header-content-length": str(len(text))}
    async with serve() as s:
        short = await s.client.post(INFER, content=text + b"\0" * 40, headers=size)
        long = await s.client.post(INFER, content=text + b"\0" * 56, headers=size)
        plain = await s.client.post("/invocations", content=text, headers=size)
        unsaid = await s.client.post(INFER, content=text)
    assert short.status_code == 400
    assert short.json()["error"] == (
        "inputs[0] (input): binary_data_size 48 runs past the body's 40 bytes of binary data"
    )
    assert long.json()["error"] == (
        "the body has 56 bytes after its JSON, and the inputs' binary_data_size add up to 48"
    )
    assert plain.status_code == 400
    assert "taken only by /v2/models/NAME/infer" in plain.text
    assert unsaid.json()["error"] == (
        "inputs[0] (input) gives a binary_data_size, but the request has no "
        "Inference-Header-Content-Length header saying where its JSON ends"
    )


async def test_a_regressor_answers_a_prediction_not_a_label(
    kit: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from mlgate.config.loader import load_config
    from mlgate.project import Project
    from mlgate.road.run import run
    from mlgate.serving.gateway import Gateway

    for variable in ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL"):
        monkeypatch.delenv(variable, raising=False)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    frame["y"] = 3 * frame["a"] - frame["b"] + 7
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "mlgate.yaml").write_text(
        "name: sizes\ndata: {train: train.csv, target: y}\n"
        "model: {estimator: sklearn.linear_model.Ridge, cv_folds: 0}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "mlgate.yaml")
    assert run(config, register=True).passed
    gateway = Gateway(Project.open(config))
    gateway.load()
    row = {"inputs": [{"name": n, "shape": [1], "datatype": "FP64", "data": [0.5]} for n in "ab"]}
    async with kit.running(gateway, lifespan=False) as s:
        metadata = (await s.client.get("/v2/models/sizes")).json()
        answered = (await s.client.post("/v2/models/sizes/infer", json=row)).json()
    assert [o["name"] for o in metadata["outputs"]] == ["prediction"]
    assert [o["name"] for o in answered["outputs"]] == ["prediction"]
    assert answered["outputs"][0]["data"][0] == pytest.approx(3 * 0.5 - 0.5 + 7, abs=0.5)
    gateway.project.close()
