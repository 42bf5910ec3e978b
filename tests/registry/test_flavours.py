"""Model flavours: each saves in its own safe format and loads back only what it verified."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from mlgate.errors import ArtifactError
from mlgate.registry.bundle import load_bundle, save_bundle
from mlgate.registry.flavours import Flavour, flavour_for, get_flavour, register_flavour
from mlgate.training.preprocessing import build_model, final_estimator, prepare_features

KINDS = {"x1": "numeric", "x2": "numeric", "colour": "categorical"}


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def estimators() -> list[Any]:
    import lightgbm
    import xgboost

    return [
        pytest.param(RandomForestClassifier(n_estimators=4, random_state=0), "sklearn", id="sk"),
        pytest.param(xgboost.XGBClassifier(n_estimators=8, max_depth=2), "xgboost", id="xgb"),
        pytest.param(xgboost.XGBRegressor(n_estimators=8), "xgboost", id="xgb-regressor"),
        pytest.param(lightgbm.LGBMClassifier(n_estimators=8, verbose=-1), "lightgbm", id="lgbm"),
        pytest.param(lightgbm.LGBMRegressor(n_estimators=8, verbose=-1), "lightgbm", id="lgbm-r"),
    ]


def fitted(estimator: Any, frame: pd.DataFrame, preprocessing: str = "auto") -> tuple[Any, Any]:
    X = prepare_features(frame, KINDS)
    if preprocessing == "none":
        X = X[["x1", "x2"]]
    final = final_estimator(estimator)
    regressor = type(final).__name__.endswith("Regressor")
    xgboost = type(final).__module__.startswith("xgboost")
    # XGBoost's classifiers learn labels 0..n-1 only; LightGBM's take any.
    y = (
        frame["x1"]
        if regressor
        else (frame["label"] == "yes").astype(int)
        if xgboost
        else frame["label"]
    )
    kinds = {"x1": "numeric", "x2": "numeric"} if preprocessing == "none" else KINDS
    model = build_model(estimator, kinds, preprocessing)
    model.fit(X, y)
    return model, X


def card_for(model: Any) -> dict[str, Any]:
    classes = getattr(model, "classes_", None)
    return {
        "name": "demo",
        "task": "classification" if classes is not None else "regression",
        "target": "label",
        "features": list(KINDS),
        "kinds": KINDS,
        "classes": None
        if classes is None
        else [c.item() if hasattr(c, "item") else c for c in classes],
    }


@pytest.mark.parametrize(("estimator", "flavour"), estimators())
@pytest.mark.parametrize("preprocessing", ["auto", "none"])
def test_each_flavour_loads_back_predicting_the_same(
    estimator: Any, flavour: str, preprocessing: str, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model, X = fitted(estimator, binary_frame, preprocessing)
    card = save_bundle(model, tmp_path, card_for(model))
    assert card.flavour == flavour
    assert card.artifact == card.files[0]
    assert [f.path for f in card.files] == {
        "sklearn": ["model.skops"],
        "xgboost": ["model.skops", "model.xgb.json", "estimator.json"],
        "lightgbm": ["model.skops", "model.lgb.txt", "estimator.json"],
    }[flavour]
    loaded, again = load_bundle(tmp_path)
    assert again == card
    assert type(loaded.steps[-1][1]) is type(model.steps[-1][1])
    assert np.array_equal(loaded.predict(X), model.predict(X))
    if hasattr(model, "predict_proba"):
        assert np.allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=0, atol=1e-7)
        assert list(loaded.classes_) == list(model.classes_)
    final = model.steps[-1][1].get_params()
    assert loaded.steps[-1][1].get_params()["n_estimators"] == final["n_estimators"]


@pytest.mark.parametrize("name", ["model.xgb.json", "estimator.json", "model.skops"])
def test_a_native_file_altered_after_writing_is_refused(
    name: str, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    import xgboost

    model, _ = fitted(xgboost.XGBClassifier(n_estimators=2), binary_frame)
    save_bundle(model, tmp_path, card_for(model))
    with (tmp_path / name).open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{tmp_path / name}: the model file's sha256 does not match the one recorded when "
            "it was written; it was altered or replaced. Retrain it, or restore the original file."
        ),
    ):
        load_bundle(tmp_path)


def test_a_class_the_flavour_does_not_load_is_refused(
    binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    import lightgbm

    model, _ = fitted(lightgbm.LGBMClassifier(n_estimators=2, verbose=-1), binary_frame)
    save_bundle(model, tmp_path, card_for(model))
    meta = json.loads((tmp_path / "estimator.json").read_text())
    (tmp_path / "estimator.json").write_text(json.dumps(meta | {"class": "Booster"}))
    card = json.loads((tmp_path / "model.json").read_text())
    for file in card["files"]:
        if file["path"] == "estimator.json":
            file["sha256"] = hashlib.sha256((tmp_path / "estimator.json").read_bytes()).hexdigest()
    (tmp_path / "model.json").write_text(json.dumps(card))
    with pytest.raises(
        ArtifactError,
        match=exact(
            "estimator.json: estimator.json names 'Booster', which this flavour does not load. "
            "Only LGBMClassifier, LGBMRegressor are loaded; retrain the model."
        ),
    ):
        load_bundle(tmp_path)


def test_a_card_from_before_flavours_loads_with_skops(
    binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model, X = fitted(RandomForestClassifier(n_estimators=3, random_state=0), binary_frame)
    save_bundle(model, tmp_path, card_for(model))
    card = json.loads((tmp_path / "model.json").read_text())
    del card["flavour"], card["files"]
    (tmp_path / "model.json").write_text(json.dumps(card))
    loaded, again = load_bundle(tmp_path)
    assert (again.flavour, again.files) == ("sklearn", [])
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_an_unknown_flavour_lists_those_there_are() -> None:
    with pytest.raises(
        ArtifactError,
        match=exact(
            "unknown model flavour 'onnx'; the flavours there are: catboost, lightgbm, sklearn, "
            "xgboost. Use the mlgate version that saved this model, or retrain it."
        ),
    ):
        get_flavour("onnx")


def test_a_registered_flavour_is_found_by_name_and_chosen_for_what_it_handles() -> None:
    sklearn = get_flavour("sklearn")
    mine = Flavour("mine", lambda e: isinstance(e, str), sklearn.save, sklearn.load)
    try:
        assert register_flavour(mine) is get_flavour("mine")
        assert flavour_for("an estimator") is mine
        assert flavour_for(RandomForestClassifier()) is sklearn
    finally:
        from mlgate.registry import flavours

        del flavours._FLAVOURS["mine"]


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_booster_inside_the_users_own_pipeline_is_saved_in_its_own_format(
    library: str, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    """`model.pipeline` puts the user's pipeline inside the schema's: the estimator
    two pipelines deep is still written in its library's format, and loads back."""
    import lightgbm
    import xgboost
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    estimator = (
        xgboost.XGBClassifier(n_estimators=8, max_depth=2)
        if library == "xgboost"
        else lightgbm.LGBMClassifier(n_estimators=8, verbose=-1)
    )
    own = Pipeline([("scale", StandardScaler()), ("boost", estimator)])
    model, X = fitted(own, binary_frame)
    card = save_bundle(model, tmp_path, card_for(model))
    assert card.flavour == library
    loaded, _ = load_bundle(tmp_path)
    inner = loaded.steps[-1][1]
    assert [name for name, _ in inner.steps] == ["scale", "boost"]
    assert type(inner.steps[-1][1]) is type(estimator)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=0, atol=1e-7)
