"""A run folder's model: the skops file plus its card, loaded back only when untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catalog_support import save_classifier
from sklearn.ensemble import RandomForestClassifier

from mlgate.errors import ArtifactError
from mlgate.registry.bundle import DeferredModel, fitted, load_bundle
from mlgate.registry.onnx import export_onnx
from mlgate.training.preprocessing import prepare_features

KINDS = {"x1": "numeric", "x2": "numeric", "colour": "categorical"}


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture
def saved(binary_frame: pd.DataFrame, tmp_path: Path) -> tuple[object, pd.DataFrame, Path]:
    forest = RandomForestClassifier(n_estimators=4, random_state=0)
    model = save_classifier(forest, binary_frame, binary_frame["label"], KINDS, tmp_path / "run")
    return model, prepare_features(binary_frame, KINDS), tmp_path / "run"


def test_a_bundle_loads_back_and_predicts_the_same_labels(
    saved: tuple[object, pd.DataFrame, Path],
) -> None:
    model, X, folder = saved
    loaded, card = load_bundle(folder)
    assert np.array_equal(loaded.predict(X), model.predict(X))  # type: ignore[attr-defined]
    assert (card.name, card.task, card.classes, card.kinds) == (
        "demo",
        "classification",
        ["no", "yes"],
        KINDS,
    )
    assert card.artifact.path == "model.skops"
    assert card.artifact.size_bytes == (folder / "model.skops").stat().st_size
    again, _ = load_bundle(folder / "model.skops")
    assert np.array_equal(again.predict(X), model.predict(X))


def test_a_model_changed_after_writing_is_refused(
    saved: tuple[object, pd.DataFrame, Path],
) -> None:
    _, _, folder = saved
    with (folder / "model.skops").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{folder / 'model.skops'}: the model file's sha256 does not match the one recorded "
            "when it was written; it was altered or replaced. "
            "Retrain it, or restore the original file."
        ),
    ):
        load_bundle(folder)


def test_a_folder_without_a_card(tmp_path: Path) -> None:
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{tmp_path}: no model.json here, so this is not a model mlgate trained. "
            "Pass the output folder of `mlgate train` or `mlgate run`."
        ),
    ):
        load_bundle(tmp_path)


def test_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(
        ArtifactError, match=exact(f"{tmp_path / 'nope'}: no such model folder or file")
    ):
        load_bundle(tmp_path / "nope")


def test_a_damaged_card(saved: tuple[object, pd.DataFrame, Path]) -> None:
    _, _, folder = saved
    card = json.loads((folder / "model.json").read_text())
    del card["artifact"]
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{folder / 'model.json'}: the model card is damaged (artifact: Field required). "
            "Retrain the model; mlgate writes the card beside the model file."
        ),
    ):
        load_bundle(folder)


def _with_export(model: object, X: pd.DataFrame, folder: Path) -> None:
    exported = export_onnx(model, KINDS, "classification", X, folder / "model.onnx")
    assert exported.artifact is not None, exported.reason
    card_path = folder / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["onnx"] = exported.artifact.model_dump()
    card_path.write_text(json.dumps(card), encoding="utf-8")


def test_a_deferred_model_is_checked_now_and_built_on_first_use(
    saved: tuple[object, pd.DataFrame, Path],
) -> None:
    model, X, folder = saved
    _with_export(model, X, folder)
    deferred, card = load_bundle(folder, defer=True)
    assert isinstance(deferred, DeferredModel)
    assert card.onnx is not None
    assert not deferred.built
    built = fitted(deferred)
    assert deferred.built
    assert fitted(deferred) is built  # built once
    assert np.array_equal(built.predict(X), model.predict(X))  # type: ignore[attr-defined]


def test_a_deferred_model_altered_before_or_after_loading_is_refused(
    saved: tuple[object, pd.DataFrame, Path],
) -> None:
    model, X, folder = saved
    _with_export(model, X, folder)
    deferred, _ = load_bundle(folder, defer=True)
    original = (folder / "model.skops").read_bytes()
    (folder / "model.skops").write_bytes(original + b"\0")
    refused = exact(
        f"{folder / 'model.skops'}: the model file's sha256 does not match the one recorded "
        "when it was written; it was altered or replaced. "
        "Retrain it, or restore the original file."
    )
    with pytest.raises(ArtifactError, match=refused):
        fitted(deferred)  # built from the bytes checked when it is built, not at load
    with pytest.raises(ArtifactError, match=refused):
        load_bundle(folder, defer=True)  # checked at load too, though not built


def test_defer_builds_a_bundle_without_an_export_at_once(
    saved: tuple[object, pd.DataFrame, Path],
) -> None:
    model, X, folder = saved
    built, card = load_bundle(folder, defer=True)
    assert card.onnx is None
    assert not isinstance(built, DeferredModel)
    assert np.array_equal(built.predict(X), model.predict(X))
