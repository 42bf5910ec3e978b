"""Loading a model by reference: a run folder, or a registered version the registry vouches for."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlgate.errors import ArtifactError, RegistryError
from mlgate.project import Project
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.bundle import save_bundle
from mlgate.registry.catalog import CHAMPION, Catalog
from mlgate.registry.refs import is_registry_ref, load_ref
from mlgate.training.preprocessing import build_model, prepare_features

KINDS = {"x1": "numeric", "colour": "categorical"}


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x1": rng.normal(0, 1, 60), "colour": rng.choice(["red", "blue"], 60)})
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    return frame


@pytest.fixture
def bundle(tmp_path: Path, rows: pd.DataFrame) -> Path:
    model = build_model(LogisticRegression(), KINDS, "auto")
    model.fit(prepare_features(rows, KINDS), rows["label"])
    folder = tmp_path / "run"
    save_bundle(
        model,
        folder,
        {
            "name": "demo",
            "task": "classification",
            "target": "label",
            "features": list(KINDS),
            "kinds": KINDS,
            "classes": ["no", "yes"],
        },
    )
    return folder


@pytest.fixture
def catalog(tmp_path: Path, registry_for: Callable[[Path], Path], bundle: Path) -> Catalog:
    """Version 1 of 'demo', the champion, registered from `bundle`."""
    registry_for(tmp_path)
    catalog = Project(tmp_path).catalog
    info = catalog.register(
        "demo",
        bundle,
        passed=True,
        reasons=[],
        metrics={},
        params={},
        tags={},
        sha256=sha256_file(bundle / "model.skops"),
        run_name="r",
    )
    catalog.move_alias("demo", CHAMPION, info.version, action="register", reason="first")
    return catalog


def registered(catalog: Catalog) -> Path:
    return catalog.local_path(catalog.version("demo", "1"))


def rewrite_card(folder: Path, **artifact: object) -> None:
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["artifact"] |= artifact
    (folder / "model.json").write_text(json.dumps(card), encoding="utf-8")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("models:/demo/1", True),
        ("models:/demo@champion", True),
        ("demo@champion", True),
        ("runs/demo", False),
        ("run", False),
    ],
)
def test_what_counts_as_a_registry_reference(ref: str, expected: bool) -> None:
    assert is_registry_ref(ref) is expected


def test_a_folder_with_an_at_sign_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "team@night"
    folder.mkdir()
    assert not is_registry_ref(str(folder))


def test_a_run_folder_loads_with_its_size_and_training_time(
    bundle: Path, rows: pd.DataFrame, tmp_path: Path
) -> None:
    loaded = load_ref(str(bundle))
    assert loaded.version is None
    assert loaded.folder == bundle
    assert loaded.size_mb == (bundle / "model.skops").stat().st_size / 1e6
    assert loaded.training_time_s is None  # no run.json beside it
    (bundle / "run.json").write_text(json.dumps({"training_time_s": 0.25}), encoding="utf-8")
    assert loaded.training_time_s == 0.25
    again = load_ref(str(bundle / "model.skops"))
    assert again.folder == bundle
    X = prepare_features(rows, KINDS)
    assert list(again.model.predict(X)) == list(loaded.model.predict(X))


@pytest.mark.parametrize("ref", ["models:/demo/1", "models:/demo@champion", "demo@champion"])
def test_a_registered_version_loads_by_reference(
    catalog: Catalog, bundle: Path, rows: pd.DataFrame, tmp_path: Path, ref: str
) -> None:
    loaded = load_ref(ref, catalog=catalog)
    assert loaded.version is not None
    assert (loaded.version.name, loaded.version.version) == ("demo", "1")
    assert loaded.card.artifact.sha256 == loaded.version.sha256
    original = load_ref(str(bundle))
    X = prepare_features(rows, KINDS)
    assert list(loaded.model.predict(X)) == list(original.model.predict(X))


def test_the_catalog_is_opened_from_the_project_folder(catalog: Catalog, tmp_path: Path) -> None:
    assert load_ref("demo@champion", catalog=Project(tmp_path).catalog).version is not None


def test_a_changed_model_file_is_refused(catalog: Catalog, tmp_path: Path) -> None:
    folder = registered(catalog)
    model = folder / "model.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{model}: the model file's sha256 does not match the one recorded when it was "
            "written; it was altered or replaced. Retrain it, or restore the original file."
        ),
    ):
        load_ref("models:/demo/1", catalog=catalog)


def test_a_changed_model_file_with_a_matching_card_is_refused_by_the_registry(
    catalog: Catalog, tmp_path: Path
) -> None:
    folder = registered(catalog)
    (folder / "model.skops").write_bytes(b"someone else's model")
    rewrite_card(folder, sha256=sha256_file(folder / "model.skops"))
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{folder}: model.json of demo version 1 differs from the one registered (its "
            "sha256 does not match the registry's); the files were altered. Register the "
            "model again from a trusted run."
        ),
    ):
        load_ref("models:/demo/1", catalog=catalog)


def test_without_the_card_digest_the_model_digest_still_catches_it(
    catalog: Catalog, tmp_path: Path
) -> None:
    """Versions registered before the card's digest was kept are checked by the model's."""
    catalog.client.delete_model_version_tag("demo", "1", "mlgate.card_sha256")
    folder = registered(catalog)
    (folder / "model.skops").write_bytes(b"someone else's model")
    rewrite_card(folder, sha256=sha256_file(folder / "model.skops"))
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{folder}: the model card's sha256 differs from the one the registry recorded for "
            "demo version 1; the files were altered. Register the model again from a trusted run."
        ),
    ):
        load_ref("models:/demo/1", catalog=catalog)


def test_a_damaged_card_is_refused_before_anything_loads(catalog: Catalog, tmp_path: Path) -> None:
    catalog.client.delete_model_version_tag("demo", "1", "mlgate.card_sha256")
    folder = registered(catalog)
    (folder / "model.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(
        ArtifactError, match=r"^.*: the model card of demo version 1 is missing or damaged \("
    ):
        load_ref("models:/demo/1", catalog=catalog)


def test_a_changed_onnx_file_with_a_matching_card_is_refused(
    catalog: Catalog, tmp_path: Path
) -> None:
    folder = registered(catalog)
    (folder / "model.onnx").write_bytes(b"an onnx graph that does something else")
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["onnx"] = {
        "path": "model.onnx",
        "sha256": sha256_file(folder / "model.onnx"),
        "size_bytes": 38,
    }
    (folder / "model.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"model\.json of demo version 1 differs"):
        load_ref("demo@champion", catalog=catalog)


def test_a_version_the_registry_holds_no_digest_for_is_not_loaded(
    catalog: Catalog, tmp_path: Path
) -> None:
    catalog.client.delete_model_version_tag("demo", "1", "mlgate.sha256")
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{registered(catalog)}: demo version 1 has no sha256 recorded in the registry, "
            "so mlgate cannot verify it and will not load it. Register models with "
            "`mlgate run`, which records the digests."
        ),
    ):
        load_ref("models:/demo/1", catalog=catalog)


def test_registry_references_where_there_is_no_registry(
    tmp_path: Path, registry_for: Callable[[Path], Path]
) -> None:
    with pytest.raises(RegistryError, match=r"^no model registry in "):
        load_ref("demo@champion", catalog=Project(tmp_path, create=False).catalog)
    assert not (tmp_path / ".mlgate").exists()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("models:/nope/1", "no registered model named 'nope'. Registered: demo."),
        ("models:/demo/7", "model 'demo' has no version '7'. Versions: 1."),
        (
            "models:/x/abc",
            "cannot read the model reference 'models:/x/abc'. Write models:/NAME/VERSION, "
            "models:/NAME@ALIAS (or NAME@ALIAS), or a run folder.",
        ),
    ],
)
def test_unknown_and_malformed_references(
    catalog: Catalog, tmp_path: Path, ref: str, message: str
) -> None:
    with pytest.raises(RegistryError, match=exact(message)):
        load_ref(ref, catalog=catalog)
