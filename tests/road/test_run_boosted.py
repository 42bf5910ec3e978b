"""XGBoost and LightGBM models along the whole road: trained, registered as champion,
compared with as the champion by the next run, then served."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.config.loader import load_config
from mlgate.project import Project
from mlgate.registry.catalog import CHALLENGER, CHAMPION
from mlgate.registry.refs import load_ref
from mlgate.road._fit import Fitted
from mlgate.serving.runtime import ServedModel
from mlgate.training.preprocessing import prepare_features

# The module, not the function `mlgate.road.run` that the package exports.
road_run = importlib.import_module("mlgate.road.run")

CASES = [
    pytest.param(
        "multiclass", "xgboost.XGBClassifier", {"n_estimators": 30, "max_depth": 3}, id="xgboost"
    ),
    pytest.param(
        "binary", "lightgbm.LGBMClassifier", {"n_estimators": 30, "verbose": -1}, id="lightgbm"
    ),
    pytest.param(
        "diabetes", "lightgbm.LGBMRegressor", {"n_estimators": 30}, id="lightgbm-regressor"
    ),
]


@pytest.mark.parametrize(("data", "estimator", "params"), CASES)
def test_a_boosted_model_is_registered_compared_with_and_served(
    data: str,
    estimator: str,
    params: dict[str, Any],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame: pd.DataFrame = request.getfixturevalue(f"{data}_frame")
    target = "progression" if data == "diabetes" else "label"
    registry_for(tmp_path / "project")
    model = {"estimator": estimator, "params": params, "cv_folds": 2}
    config = load_config(new_project(frame, target=target, model=model, gates={}))
    fits: list[Fitted] = []
    fit_and_evaluate = road_run.fit_and_evaluate

    def keep(*args: Any) -> Fitted:
        fits.append(fit_and_evaluate(*args))
        return fits[-1]

    monkeypatch.setattr(road_run, "fit_and_evaluate", keep)

    first = road_run.run(config, register=True)
    second = road_run.run(config, register=True)

    assert capsys.readouterr().out == ""  # no library chatter
    assert first.registration is not None
    assert first.registration.alias == CHAMPION
    assert second.registration is not None
    assert second.registration.alias == CHALLENGER
    assert second.comparison is not None
    assert second.comparison.baseline_ref == "models:/demo/1 (champion)"
    # Same config, same data, same seed: the champion scores as the challenger does.
    timing = {"training_time", "model_size_mb"}
    new, baseline = second.comparison.new, second.comparison.baseline
    assert {k: v for k, v in new.items() if k not in timing} == {
        k: v for k, v in baseline.items() if k not in timing
    }
    with Project.open(config) as project:
        loaded = load_ref("models:/demo@champion", catalog=project.catalog)
    assert loaded.card.flavour == estimator.partition(".")[0]
    rows = frame.drop(columns=[target])
    X = prepare_features(rows, loaded.card.kinds)
    fitted = fits[0].model
    assert np.array_equal(loaded.model.predict(X), fitted.predict(X))
    # The gateway serves the ONNX export when one agreed on the held-out rows, the
    # model itself otherwise; either way it predicts what the fitted model does there.
    held_out = pd.read_parquet(Path(first.output_dir) / "test.parquet")
    X = prepare_features(held_out, loaded.card.kinds)
    served = ServedModel.load(loaded)
    assert served.fast == (loaded.card.onnx is not None)
    if estimator.startswith("lightgbm"):  # onnxmltools' converter agrees on every row
        assert served.fast, loaded.card.onnx_note
    prediction = served.predict({name: X[name].to_numpy() for name in served.features})
    expected = fitted.predict(X)
    if loaded.card.task == "regression":  # ONNX Runtime computes in float32
        assert np.allclose(prediction.labels, expected, rtol=1e-5)
    else:
        assert prediction.labels == expected.tolist()
        assert prediction.probabilities is not None
        assert np.allclose(prediction.probabilities, fitted.predict_proba(X), atol=1e-5)
