"""The catalog: versions in a real MLflow registry (SQLite), aliases, and their history."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from catalog_support import exact, register

from mlgate.errors import ArtifactError, RegistryError
from mlgate.project import Project
from mlgate.registry import aliases
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.catalog import CHALLENGER, CHAMPION, Catalog, parse_ref
from mlgate.state.store import StateStore

# --- registering ------------------------------------------------------------------------


def test_a_registered_version_keeps_its_files_verdict_digests_and_metrics(
    catalog: Catalog, bundle: Path
) -> None:
    info = register(catalog, bundle)
    assert (info.name, info.version, info.passed, info.reasons, info.aliases) == (
        "demo",
        "1",
        True,
        [],
        [],
    )
    assert info.sha256 == sha256_file(bundle / "model.skops")
    assert info.card_sha256 == sha256_file(bundle / "model.json")
    assert info.metrics == {"accuracy": 0.9}  # a metric without a value is not logged
    assert info.tags["mlgate.target"] == "label"
    assert info.created.tzinfo is not None
    folder = catalog.local_path(info)
    assert (folder / "model.skops").read_bytes() == (bundle / "model.skops").read_bytes()
    assert (folder / "model.json").read_bytes() == (bundle / "model.json").read_bytes()
    run = catalog.client.get_run(str(info.run_id))
    assert run.info.status == "FINISHED"
    assert run.data.params["param.max_depth"] == "2"


def test_a_failed_version_is_registered_marked_failed_with_its_reasons(
    catalog: Catalog, bundle: Path
) -> None:
    reasons = ["accuracy: loss +0.3600 beyond the allowed 0.02", "f1 0.39 < min 0.8"]
    info = register(catalog, bundle, passed=False, reasons=reasons)
    assert (info.passed, info.reasons, info.aliases) == (False, reasons, [])
    assert info.tags["mlgate.passed"] == "false"
    version = catalog.client.get_model_version("demo", info.version)
    assert version.description == "FAILED: " + "; ".join(reasons)


def test_many_long_reasons_are_cut_whole_and_read_back(catalog: Catalog, bundle: Path) -> None:
    reasons = [f"slice colour={i}: accuracy fell " + "x" * 300 for i in range(40)]
    info = register(catalog, bundle, passed=False, reasons=reasons)
    assert len(info.tags["mlgate.reasons"]) <= 5000
    assert info.reasons[:3] == reasons[:3]
    kept = len(info.reasons) - 1
    assert info.reasons[-1] == f"... and {40 - kept} more (see the run's summary)"
    description = catalog.client.get_model_version("demo", info.version).description
    assert len(description) == 1000
    assert description.endswith("…")


def test_versions_and_models_list_what_is_registered(three: Catalog) -> None:
    three.move_alias("demo", CHAMPION, "1", action="promote", reason="first")
    three.move_alias("demo", CHALLENGER, "3", action="register", reason="passed")
    assert [(v.version, v.passed, v.aliases) for v in three.versions("demo")] == [
        ("1", True, [CHAMPION]),
        ("2", False, []),
        ("3", True, [CHALLENGER]),
    ]
    [summary] = three.models()
    assert summary.model_dump() == {
        "name": "demo",
        "versions": 3,
        "latest": "3",
        "champion": "1",
        "challenger": "3",
    }
    assert three.aliases("demo") == {CHALLENGER: "3", CHAMPION: "1"}
    assert three.resolve("models:/demo@champion").version == "1"
    assert three.resolve("demo@challenger").version == "3"
    assert three.resolve("models:/demo/2").passed is False


# --- a crash or a broken bundle leaves no version without its files ----------------------


def test_a_bundle_deleted_before_registering_creates_nothing(
    catalog: Catalog, bundle: Path
) -> None:
    sha256 = sha256_file(bundle / "model.skops")
    shutil.rmtree(bundle)
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{bundle}: cannot register this folder: model.json, model.skops missing. "
            "Register the output folder of `mlgate run` or `mlgate train`."
        ),
    ):
        register(catalog, bundle, sha256=sha256)
    assert not catalog.has_model("demo")
    assert catalog.client.search_experiments(filter_string="name = 'mlgate/demo'") == []


def test_a_model_file_changed_since_training_is_not_registered(
    catalog: Catalog, bundle: Path
) -> None:
    (bundle / "model.skops").write_bytes(b"not the model that was trained")
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{bundle}: model.skops changed after training: its sha256 differs from the "
            "run's. Train again; mlgate registers only the model file it wrote."
        ),
    ):
        register(catalog, bundle)
    assert not catalog.has_model("demo")


def test_an_onnx_file_unlike_its_card_is_not_registered(catalog: Catalog, bundle: Path) -> None:
    card = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
    card["onnx"] = {"path": "model.onnx", "sha256": "0" * 64, "size_bytes": 5}
    (bundle / "model.json").write_text(json.dumps(card), encoding="utf-8")
    (bundle / "model.onnx").write_bytes(b"graph")
    with pytest.raises(
        ArtifactError,
        match=exact(
            f"{bundle}: model.onnx is missing or differs from the one its card records. "
            "Train again; mlgate registers only the files it wrote."
        ),
    ):
        register(catalog, bundle)
    assert not catalog.has_model("demo")


def test_without_a_digest_given_the_model_file_s_own_is_recorded(
    catalog: Catalog, bundle: Path
) -> None:
    info = register(catalog, bundle, sha256="")
    assert info.sha256 == sha256_file(bundle / "model.skops")


def test_when_the_artifact_store_fails_no_version_exists(
    tmp_path: Path, catalog: Catalog, bundle: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the artifact store should be a folder", encoding="utf-8")
    broken = Catalog(
        catalog.uri,
        StateStore(f"sqlite:///{tmp_path / 'broken-state.db'}"),
        artifact_root=(blocker / "artifacts").as_uri(),
        cache=tmp_path / "cache",
    )
    with pytest.raises(
        RegistryError,
        match=r"^could not log the model's files to the registry \(\[Errno 20\] Not a directory: "
        r".*\), so no version was registered\. Check that the registry's artifact store is "
        r"reachable and writable, then run again\.$",
    ):
        register(broken, bundle)
    assert not broken.has_model("demo")
    assert broken.client.search_model_versions("name = 'demo'") == []
    [experiment] = broken.client.search_experiments(filter_string="name = 'mlgate/demo'")
    [run] = broken.client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"


# --- unknown names and malformed references ----------------------------------------------


def test_an_unknown_model_lists_the_registered_ones(three: Catalog) -> None:
    message = exact("no registered model named 'nope'. Registered: demo.")
    for call in (
        lambda: three.versions("nope") or three.history("nope"),
        lambda: three.version("nope", "1"),
        lambda: three.resolve("models:/nope@champion"),
        lambda: aliases.promote(three, "nope", "1", reason="r"),
        lambda: aliases.rollback(three, "nope", reason="r"),
    ):
        with pytest.raises(RegistryError, match=message):
            call()


def test_an_unknown_model_in_an_empty_registry(catalog: Catalog) -> None:
    with pytest.raises(
        RegistryError,
        match=exact(
            "no registered model named 'demo'. Nothing is registered yet: run `mlgate run`."
        ),
    ):
        catalog.history("demo")
    assert catalog.models() == []


@pytest.mark.parametrize("version", ["9", "0", "abc"])
def test_an_unknown_version_lists_the_versions(three: Catalog, version: str) -> None:
    with pytest.raises(
        RegistryError, match=exact(f"model 'demo' has no version '{version}'. Versions: 1, 2, 3.")
    ):
        three.version("demo", version)


def test_an_unknown_alias_lists_the_aliases(three: Catalog) -> None:
    with pytest.raises(
        RegistryError,
        match=exact(
            "model 'demo' has no version with alias 'champion'. It has no aliases yet. "
            "Aliases are set by `mlgate run` and `mlgate models promote`."
        ),
    ):
        three.resolve("demo@champion")
    aliases.promote(three, "demo", "1", reason="r")
    with pytest.raises(
        RegistryError,
        match=exact(
            "model 'demo' has no version with alias 'staging'. Aliases: champion → 1. "
            "Aliases are set by `mlgate run` and `mlgate models promote`."
        ),
    ):
        three.resolve("models:/demo@staging")


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("models:/demo/3", ("demo", "3", None)),
        ("models:/demo@champion", ("demo", None, "champion")),
        ("demo@challenger", ("demo", None, "challenger")),
        ("demo/12", ("demo", "12", None)),
    ],
)
def test_references_name_a_version_or_an_alias(
    ref: str, parsed: tuple[str, str | None, str | None]
) -> None:
    assert parse_ref(ref) == parsed


@pytest.mark.parametrize(
    "ref", ["models:/x", "models:/x/abc", "models:/x/", "models:/@champion", "models:/x@", "x"]
)
def test_a_malformed_reference_says_how_to_write_one(ref: str) -> None:
    with pytest.raises(
        RegistryError,
        match=exact(
            f"cannot read the model reference {ref!r}. Write models:/NAME/VERSION, "
            "models:/NAME@ALIAS (or NAME@ALIAS), or a run folder."
        ),
    ):
        parse_ref(ref)


# --- where the catalog lives -------------------------------------------------------------


def test_reading_where_there_is_no_registry_creates_none(
    tmp_path: Path, registry_for: Callable[[Path], Path]
) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    with pytest.raises(
        RegistryError,
        match=exact(
            f"no model registry in {empty.resolve()}: there is no .mlgate/mlflow.db. Run "
            "`mlgate run` in the project first, pass -c with the project's mlgate.yaml, "
            "or set MLGATE_REGISTRY_URI."
        ),
    ):
        Project(empty, create=False).catalog  # noqa: B018  # opening is what is refused
    assert list(empty.iterdir()) == []


def test_a_registry_elsewhere_downloads_each_version_once_into_the_cache(
    tmp_path: Path,
    mlflow_template: Path,
    registry_for: Callable[[Path], Path],
    bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = tmp_path / "shared.db"
    shutil.copyfile(mlflow_template, shared)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLGATE_REGISTRY_URI", f"sqlite:///{shared}")
    # A store addressed by a relative location, as a shared server's would be: not file://.
    monkeypatch.setenv("MLGATE_ARTIFACT_ROOT", "mlruns")
    project = tmp_path / "project"
    catalog = Project(project, create=False).catalog
    assert catalog.uri == f"sqlite:///{shared}"
    info = register(catalog, bundle)
    assert not info.source.startswith("file://")
    folder = catalog.local_path(info)
    assert folder == project / ".mlgate" / "cache" / "demo" / f"1-{info.run_id}" / "model"
    assert sha256_file(folder / "model.skops") == info.sha256
    (folder / "marker").write_text("kept", encoding="utf-8")
    assert catalog.local_path(info) == folder
    assert (folder / "marker").exists()  # the second call used the cache
