"""Every protocol names a model's answer alike, on a real uvicorn: a regressor's
`prediction`, a classifier's `label` with its `probabilities`, for one row and for a
batch, and the same numbers in each."""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from serving.requests import MODEL, REGRESSOR

#: The rows asked for: one, then a batch of every held-out row.
SIZES = [pytest.param(1, id="one-row"), pytest.param(None, id="batch")]


def answers(url: str, name: str, registered: Any, rows: int | None) -> dict[str, Any]:
    """Each protocol's answer to the first `rows` held-out rows (all with None)."""
    chosen = slice(0, rows)
    lists, records = registered.lists(chosen), registered.records(chosen)
    features = registered.features
    frame = registered.test[features].iloc[chosen]
    v2 = {
        "inputs": [
            {
                "name": "input",
                "shape": [len(lists), len(features)],
                "datatype": "BYTES",
                "data": lists,
            }
        ]
    }
    split = {"dataframe_split": {"columns": features, "data": lists}}
    with httpx.Client(base_url=url, timeout=30.0) as client:
        got = {
            "v2": client.post(f"/v2/models/{name}/infer", json=v2),
            "v2 metadata": client.get(f"/v2/models/{name}"),
            "invocations": client.post("/invocations", json=split),
            "invocations records": client.post("/invocations", json={"dataframe_records": records}),
            "invocations csv": client.post(
                "/invocations",
                content=frame.to_csv(index=False).encode(),
                headers={"content-type": "text/csv"},
            ),
            "predict": client.post("/predict", json={"instances": lists}),
        }
    for protocol, response in got.items():
        assert response.status_code == 200, f"{protocol}: {response.text}"
    return {protocol: response.json() for protocol, response in got.items()}


@pytest.mark.parametrize("rows", SIZES)
def test_a_regressor_answers_prediction_in_every_protocol(
    kit: Any, regressor_project: Any, registered_regressor: Any, rows: int | None
) -> None:
    with kit.in_thread(kit.make_gateway(regressor_project)) as url:
        got = answers(url, REGRESSOR, registered_regressor, rows)
    own = registered_regressor.labels["1"][:rows]
    v2 = got["v2"]["outputs"]
    assert [o["name"] for o in v2] == ["prediction"]
    assert v2[0]["datatype"] == "FP64"
    values = v2[0]["data"]
    assert len(values) == len(own)
    # ONNX Runtime computes in 32-bit floats: the model's own numbers to 6 digits.
    np.testing.assert_allclose(values, own, rtol=1e-5)
    assert [o["name"] for o in got["v2 metadata"]["outputs"]] == ["prediction"]
    expected = [{"prediction": value} for value in values]
    assert got["invocations"]["predictions"] == expected
    assert got["invocations records"]["predictions"] == expected
    assert got["invocations csv"]["predictions"] == expected
    assert got["predict"]["predictions"] == values
    assert "probabilities" not in got["predict"]
    assert "classes" not in got["predict"]
    assert all(isinstance(v, float) for v in values)


@pytest.mark.parametrize("rows", SIZES)
def test_a_classifier_answers_label_and_probabilities_in_every_protocol(
    kit: Any, project: Any, registered: Any, rows: int | None
) -> None:
    if rows is None:  # missing values are sent as null (in CSV, empty) and answered too
        assert pd.isna(registered.test[registered.features]).any().any()
    with kit.in_thread(kit.make_gateway(project)) as url:
        got = answers(url, MODEL, registered, rows)
    labels = registered.labels["1"][:rows]
    label, probabilities = got["v2"]["outputs"]
    assert (label["name"], probabilities["name"]) == ("label", "probabilities")
    assert label["data"] == labels
    table = np.asarray(probabilities["data"]).reshape(len(labels), 2).tolist()
    np.testing.assert_allclose(table, registered.probabilities["1"][: len(labels)], atol=0.05)
    names = [o["name"] for o in got["v2 metadata"]["outputs"]]
    assert names == ["label", "probabilities"]
    expected = [
        {"label": value, "probabilities": row} for value, row in zip(labels, table, strict=True)
    ]
    assert got["invocations"]["predictions"] == expected
    assert got["invocations records"]["predictions"] == expected
    assert got["invocations csv"]["predictions"] == expected
    assert got["predict"]["predictions"] == labels
    assert got["predict"]["probabilities"] == table
    assert got["predict"]["classes"] == [0, 1]
    assert all(math.isclose(sum(row), 1.0, abs_tol=1e-6) for row in table)
