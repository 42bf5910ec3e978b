"""`POST /v2/models/NAME/explain` on a real uvicorn: per-row attributions that, with the
base value, add up to the model's own output; the forest by SHAP's tree explainer, the
logistic regression by the kernel estimate; bounded in rows; a clear 501 without SHAP."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import numpy as np
import pytest

from mlgate.registry.refs import load_ref
from mlgate.serving.explain import EXPLAIN_ROWS
from mlgate.training.preprocessing import prepare_features
from serving.requests import MODEL, error

pytest.importorskip("shap")

ROWS = 8


def v2_body(registered: Any, rows: slice) -> dict[str, Any]:
    lists = registered.lists(rows)
    return {
        "inputs": [
            {
                "name": "input",
                "shape": [len(lists), len(registered.features)],
                "datatype": "BYTES",
                "data": lists,
            }
        ]
    }


def own_probabilities(project: Any, registered: Any, version: str, rows: slice) -> Any:
    """The registered model's own class probabilities (its library, not ONNX)."""
    loaded = load_ref(f"models:/{MODEL}/{version}", catalog=project.catalog())
    frame = prepare_features(registered.test.iloc[rows], loaded.card.kinds)
    return loaded.model.predict_proba(frame), [str(c) for c in loaded.card.classes or []]


def totals(answer: dict[str, Any], outputs: list[str]) -> Any:
    """Base value plus the attributions, per row and output."""
    features = answer["features"]
    return np.array(
        [
            [
                answer["base_values"][o] + sum(row["attributions"][o][f] for f in features)
                for o in outputs
            ]
            for row in answer["rows"]
        ]
    )


@pytest.mark.parametrize(
    ("path", "version", "method"),
    [
        pytest.param(f"/v2/models/{MODEL}/explain", "1", "tree", id="champion-forest-tree"),
        pytest.param(
            f"/v2/models/{MODEL}/versions/2/explain", "2", "kernel", id="challenger-kernel"
        ),
    ],
)
def test_attributions_add_up_to_the_model_s_output(
    kit: Any, project: Any, registered: Any, path: str, version: str, method: str
) -> None:
    rows = slice(0, ROWS)
    with kit.in_thread(kit.make_gateway(project)) as url, httpx.Client(base_url=url) as client:
        response = client.post(path, json=v2_body(registered, rows), timeout=60)
        infer = client.post(
            f"/v2/models/{MODEL}/versions/{version}/infer", json=v2_body(registered, rows)
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["model_version"], answer["method"]) == (version, method)
    assert answer["output"] == "probability"  # a forest's and the kernel's: probabilities
    # Attributed to the model's input features: the one-hot columns summed back.
    assert answer["features"] == registered.features
    assert len(answer["rows"]) == ROWS
    probabilities, classes = own_probabilities(project, registered, version, rows)
    assert list(answer["base_values"]) == classes
    np.testing.assert_allclose(totals(answer, classes), probabilities, atol=1e-6)
    # The prediction beside them is the served version's answer, as /infer gives it.
    labels = [row["prediction"] for row in answer["rows"]]
    assert labels == infer.json()["outputs"][0]["data"]
    spread = np.abs(
        [[row["attributions"][classes[1]][f] for f in answer["features"]] for row in answer["rows"]]
    )
    assert spread.sum(axis=1).min() > 0  # the rows' answers are explained, not all base value


def test_a_boosted_model_s_attributions_add_up_to_its_margin() -> None:
    """SHAP explains boosted trees' log-odds: through the preprocessing pipeline, the
    attributions of one-hot columns summed back to their feature."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlgate.training.explain import explainer_for
    from mlgate.training.preprocessing import build_model

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"x1": rng.normal(size=300), "colour": rng.choice(["red", "blue", "green"], 300)}
    )
    y = np.where(X["x1"] + (X["colour"] == "red") > 0.3, "yes", "no")
    kinds = {"x1": "numeric", "colour": "categorical"}
    model = build_model(HistGradientBoostingClassifier(max_iter=20), kinds, "auto").fit(X, y)
    explained = explainer_for(model, "classification", kinds, ["no", "yes"], "y", None).explain(
        X.iloc[:20]
    )
    assert (explained.method, explained.output, explained.outputs) == ("tree", "margin", ["yes"])
    assert explained.features == ["x1", "colour"]
    summed = np.asarray(explained.attributions)[:, 0, :].sum(axis=1) + explained.base_values[0]
    np.testing.assert_allclose(summed, model.decision_function(X.iloc[:20]), atol=1e-6)


def test_more_rows_than_the_bound_are_refused(kit: Any, project: Any, registered: Any) -> None:
    many = [registered.lists(slice(0, 1))[0]] * (EXPLAIN_ROWS + 1)
    body = {
        "inputs": [
            {"name": "input", "shape": [len(many), len(many[0])], "datatype": "BYTES", "data": many}
        ]
    }
    with kit.in_thread(kit.make_gateway(project)) as url, httpx.Client(base_url=url) as client:
        response = client.post(f"/v2/models/{MODEL}/explain", json=body)
        unknown = client.post("/v2/models/other/explain", json=v2_body(registered, slice(0, 1)))
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "too_many_rows"
    assert response.json()["error"].startswith(
        f"an explain request may hold at most {EXPLAIN_ROWS} rows; this one holds "
        f"{EXPLAIN_ROWS + 1}"
    )
    assert unknown.status_code == 404
    assert unknown.json() == error(
        f"unknown model 'other'; this gateway serves {MODEL!r}", "unknown_model"
    )


def test_without_shap_the_route_names_the_extra(
    kit: Any, project: Any, registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)  # as if it were not installed
    with kit.in_thread(kit.make_gateway(project)) as url, httpx.Client(base_url=url) as client:
        response = client.post(f"/v2/models/{MODEL}/explain", json=v2_body(registered, slice(0, 2)))
        served = client.post(f"/v2/models/{MODEL}/infer", json=v2_body(registered, slice(0, 2)))
    assert response.status_code == 501
    assert response.json()["detail"]["code"] == "explain_unavailable"
    assert response.json()["error"] == (
        "version 1 cannot be explained: explanations need SHAP, which is not installed. "
        "Install the extra: pip install 'mlgate[explain]'"
    )
    assert served.status_code == 200  # predictions are not affected
