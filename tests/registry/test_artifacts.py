"""Model files that are safe to load: skops only, sha256 checked, untrusted types refused."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mlgate.errors import ArtifactError
from mlgate.registry.artifacts import load_skops, save_skops, sha256_file


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture
def forest() -> RandomForestClassifier:
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    return RandomForestClassifier(n_estimators=3, random_state=0).fit(X, ["a", "b", "a", "b"])


def test_a_saved_model_loads_back_and_predicts_the_same(
    forest: RandomForestClassifier, tmp_path: Path
) -> None:
    path = tmp_path / "deep" / "model.skops"
    info = save_skops(forest, path)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_file(path)
    assert info.size_bytes == path.stat().st_size
    loaded = load_skops(path, sha256=info.sha256)
    X = np.array([[0.1, 0.8], [0.7, 0.2]])
    assert list(loaded.predict(X)) == list(forest.predict(X))


def test_a_tampered_file_is_refused(forest: RandomForestClassifier, tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    info = save_skops(forest, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{path}: the model file's sha256 does not match the one recorded when it was "
            "written; it was altered or replaced. Retrain it, or restore the original file."
        ),
    ):
        load_skops(path, sha256=info.sha256)


@pytest.mark.parametrize(
    ("function", "name"),
    [
        (subprocess.call, "subprocess.call"),
        (eval, "builtins.eval"),
        # A class of a trusted package is still a callable: this one opens files.
        (np.memmap, "numpy.memmap"),
        (np.lib.format.open_memmap, "numpy.lib.format.open_memmap"),
    ],
)
def test_a_file_with_an_untrusted_type_is_refused_by_name(
    tmp_path: Path, function: object, name: str
) -> None:
    path = tmp_path / "model.skops"
    sio.dump(Pipeline([("step", FunctionTransformer(func=function))]), path)
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{path}: refusing to load a model file that contains untrusted type(s): {name}. "
            "Only scikit-learn estimators and their state, its feature-selection score "
            "functions, NumPy dtypes, scalars, ufuncs and random state, SciPy sparse matrices, "
            "and the classes of the files listed under model.code (stored with the version) "
            "are loaded from model files. For your own classes, list the module that defines "
            "them under model.code; for another function, wrap it in a class of your own "
            "module; then train again."
        ),
    ) as caught:
        load_skops(path, sha256=sha256_file(path))
    assert caught.value.path == str(path)


def test_a_booster_inside_an_ensemble_is_refused_saying_where_boosters_go(
    tmp_path: Path, binary_frame: pd.DataFrame
) -> None:
    import xgboost
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression

    X = binary_frame[["x1", "x2"]]
    y = (binary_frame["label"] == "yes").astype(int)
    voting = VotingClassifier(
        [("xgb", xgboost.XGBClassifier(n_estimators=4)), ("lr", LogisticRegression())],
        voting="soft",
    ).fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(voting, path)
    with pytest.raises(ArtifactError) as caught:
        load_skops(path, sha256=sha256_file(path))
    assert str(caught.value).endswith(
        "XGBoost estimators are saved in their own format when they are the model's final "
        "estimator (model.estimator, or the last step of model.pipeline); one anywhere else, "
        "e.g. inside a VotingClassifier or StackingClassifier, cannot be stored safely. Make "
        "it the final estimator, or use a scikit-learn estimator in its place, and train again."
    ), str(caught.value)
    assert "xgboost.sklearn.XGBClassifier" in str(caught.value)


@pytest.mark.parametrize(
    "model",
    [
        "forest",
        "hist",
        "neighbours",
        "pipeline",
        "select_k_best",
        "mutual_info",
    ],
)
def test_what_models_hold_is_on_the_list_and_loads(tmp_path: Path, model: str) -> None:
    """Trees, their predictors, neighbour indexes and metrics, dtypes and ufunc functions:
    each model kind's state is on the list and loads."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_selection import SelectKBest, mutual_info_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    y = (x[:, 0] > 0.5).astype(int)
    fitted: object = {
        "forest": lambda: RandomForestClassifier(3, random_state=0).fit(x, y),
        "hist": lambda: HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        "neighbours": lambda: KNeighborsClassifier(algorithm="kd_tree").fit(x, y),
        "pipeline": lambda: Pipeline(
            [
                ("log", FunctionTransformer(np.log1p)),
                ("scale", StandardScaler()),
                ("model", LogisticRegression()),
            ]
        ).fit(x, y),
        "select_k_best": lambda: Pipeline(
            [("select", SelectKBest(k=2)), ("model", LogisticRegression())]
        ).fit(x, y),
        "mutual_info": lambda: Pipeline(
            [
                ("select", SelectKBest(mutual_info_classif, k=2)),
                ("model", LogisticRegression()),
            ]
        ).fit(x, y),
    }[model]()
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    loaded = load_skops(path, sha256=sha256_file(path))
    assert np.array_equal(loaded.predict(x), fitted.predict(x))  # type: ignore[attr-defined]


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=exact(f"{tmp_path / 'x.skops'}: model file not found")):
        load_skops(tmp_path / "x.skops")


def test_a_file_that_is_not_skops(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(b"\x80\x04pickle, not skops")
    with pytest.raises(
        ArtifactError,
        match=rf"^{re.escape(str(path))}: not a readable skops "
        r"file \(.+\)\.$",
    ):
        load_skops(path)
