"""The front hall: one Project builds the config, settings, catalog, state store and notifier."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlgate.errors import ConfigError, RegistryError
from mlgate.project import Project
from mlgate.scaffold.example import write_example


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("MLGATE_WEBHOOK_URL", "MLGATE_POLL_INTERVAL", "MLGATE_REGISTRY_URI"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return write_example(tmp_path / "demo", rows=200)


def test_a_project_is_its_configs_folder(config: Path) -> None:
    with Project.open(config) as project:
        assert project.base_dir == config.parent
        assert project.name == "credit-risk"
        assert project.has_config
        assert project.log_root == str((config.parent / ".mlgate" / "logs").resolve())


def test_without_a_config_the_project_is_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project = Project.open(tmp_path / "absent.yaml", required=False)
    assert project.base_dir == tmp_path
    assert not project.has_config
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"{tmp_path / 'mlgate.yaml'}: this command needs the project's config, and there "
            "is none here. Run it in the project's folder, or pass -c with its mlgate.yaml."
        ),
    ):
        project.config  # noqa: B018  # reading it is what is refused


def test_a_config_asked_for_must_be_there(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent\.yaml"):
        Project.open(tmp_path / "absent.yaml")


def test_opening_an_existing_registry_only_creates_nothing(tmp_path: Path) -> None:
    project = Project(tmp_path, create=False)
    with pytest.raises(RegistryError, match=r"^no model registry in "):
        project.catalog  # noqa: B018
    with pytest.raises(RegistryError, match=r"^no model registry in "):
        project.state  # noqa: B018
    assert list(tmp_path.iterdir()) == []


def test_settings_are_read_when_first_needed(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_POLL_INTERVAL", "soon")
    project = Project.open(config)  # the config alone needs no setting
    assert project.name == "credit-risk"
    with pytest.raises(ConfigError, match=r"environment variable MLGATE_POLL_INTERVAL"):
        project.settings  # noqa: B018


def test_the_configs_webhook_comes_before_the_environments(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_WEBHOOK_URL", "http://127.0.0.1:9/from-env")
    assert Project.open(config).notifier.target == "127.0.0.1"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("rollout", {})["webhook"] = "http://localhost:9/from-config"
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert Project.open(config).notifier.target == "localhost"
    monkeypatch.delenv("MLGATE_WEBHOOK_URL")
    assert not Project.open(Path("absent.yaml"), required=False).notifier.enabled


def test_the_registry_and_state_store_are_the_projects_own(config: Path) -> None:
    with Project.open(config) as project:
        assert project.state.url.endswith(".mlgate/state.db")
        assert project.catalog.uri.endswith(".mlgate/mlflow.db")
