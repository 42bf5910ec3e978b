"""Open Inference Protocol tensors: every refusal names the tensor and what is wrong.

One gateway for the module (refusals change nothing), with small limits:
5 rows per request and 4096 bytes per body.
"""

from __future__ import annotations

from typing import Any

import pytest

from serving.requests import LIST, ROW, error

pytestmark = pytest.mark.anyio

FEATURES = "age, income, debt_ratio, credit_score, employment, region"


MAX_ROWS, MAX_BYTES = 5, 4096


@pytest.fixture(scope="module")
def gateway(kit: Any, module_project: Any) -> Any:
    return kit.make_gateway(module_project, max_batch_rows=MAX_ROWS, max_body_bytes=MAX_BYTES)


def _tensor(**changes: Any) -> dict[str, Any]:
    return {"name": "input", "shape": [1, 6], "datatype": "BYTES", "data": [LIST]} | changes


V2_REFUSED: dict[str, tuple[Any, int, dict[str, Any]]] = {
    "wrong width": (
        {"inputs": [_tensor(shape=[1, 5], data=[LIST[:5]])]},
        422,
        error(
            "a single input tensor (input) must have shape [rows, 6] with the features in "
            f"order: {FEATURES}; got [1, 5]",
            "wrong_features",
        ),
    ),
    "data not matching the shape": (
        {"inputs": [_tensor(shape=[2, 6])]},
        400,
        error("inputs[0] (input): shape [2, 6] needs 12 value(s), data has 6", "bad_tensor"),
    ),
    "unknown datatype": (
        {"inputs": [_tensor(datatype="FLOAT")]},
        400,
        error(
            'inputs[0] (input): unknown datatype "FLOAT"; one of BOOL, BYTES, FP16, FP32, '
            "FP64, INT16, INT32, INT64, INT8, UINT16, UINT32, UINT64, UINT8",
            "bad_tensor",
        ),
    ),
    "negative shape": (
        {"inputs": [_tensor(shape=[-1, 6])]},
        400,
        error("inputs[0] (input): shape must be a list of non-negative integers", "bad_tensor"),
    ),
    "a feature twice": (
        {
            "inputs": [
                {"name": "age", "shape": [1], "datatype": "INT64", "data": [41]},
                {"name": "age", "shape": [1], "datatype": "INT64", "data": [42]},
            ]
        },
        422,
        error(
            "input 'age' is given more than once; send one tensor per feature",
            "wrong_features",
            feature="age",
        ),
    ),
    "missing features": (
        {"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [41]}]},
        422,
        error(
            "missing feature(s): income, debt_ratio, credit_score, employment, region. "
            f"The model takes: {FEATURES}",
            "wrong_features",
            feature="income",
        ),
    ),
    "columns of different lengths": (
        {
            "inputs": [
                {"name": name, "shape": [2 if name == "region" else 1], "datatype": "BYTES"}
                | {"data": [value] * (2 if name == "region" else 1)}
                for name, value in ROW.items()
            ]
        },
        422,
        error(
            "feature 'region' has 2 value(s) but the others have 1",
            "bad_shape",
            feature="region",
        ),
    ),
    "text in a numeric tensor, in row 1": (
        {
            "inputs": [
                _tensor(shape=[2, 6], data=[LIST, [41, "52k", 0.31, 690, "employed", "north"]])
            ]
        },
        422,
        error(
            "feature 'income' in row 1 must be a number, got \"52k\"",
            "not_a_number",
            row=1,
            feature="income",
        ),
    ),
    "id not a string": (
        {"id": 7, "inputs": [_tensor()]},
        400,
        error("id must be a string, got 7", "bad_body"),
    ),
    "no inputs": (
        {"inputs": []},
        400,
        error("inputs is empty", "bad_body"),
    ),
}


@pytest.mark.parametrize("case", list(V2_REFUSED))
async def test_v2_refuses(kit: Any, gateway: Any, case: str) -> None:
    body, status, expected = V2_REFUSED[case]
    async with kit.running(gateway, lifespan=False) as s:
        response = await s.client.post("/v2/models/credit-risk/infer", json=body)
    assert response.status_code == status
    assert response.json() == expected


async def test_every_datatype_the_openapi_document_lists_is_accepted(
    kit: Any, gateway: Any
) -> None:
    from mlgate.serving.tensors import DATATYPES

    async with kit.running(gateway, lifespan=False) as s:
        document = (await s.client.get("/openapi.json")).json()
        infer = document["paths"]["/v2/models/{model_name}/infer"]["post"]
        schema = infer["requestBody"]["content"]["application/json"]["schema"]
        listed = schema["properties"]["inputs"]["items"]["properties"]["datatype"]["enum"]
        answers = [
            await s.client.post(
                "/v2/models/credit-risk/infer", json={"inputs": [_tensor(datatype=datatype)]}
            )
            for datatype in listed
        ]
    assert listed == list(DATATYPES)
    assert [a.status_code for a in answers] == [200] * len(DATATYPES)
