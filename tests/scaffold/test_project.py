"""mlgate init and mlgate ci generate: the layout, the workflows, and a project that runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.errors import ConfigError
from mlgate.scaffold.project import init_project


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    init_project(folder)
    return folder


def test_init_writes_the_chapter_layout(scaffolded: Path) -> None:
    for name in (
        "mlgate.yaml",
        "schema.yaml",
        "data/train.csv",
        "data/test.csv",
        "requirements.txt",
        "README.md",
        "tests/test_data_validation.py",
        "tests/test_model_performance.py",
        "tests/test_integration.py",
        ".github/workflows/ci.yml",
        ".github/workflows/train.yml",
        ".github/workflows/pr-model-check.yml",
        ".github/workflows/deploy.yml",
    ):
        assert (scaffolded / name).is_file(), name


def test_init_refuses_to_overwrite_and_names_the_files(scaffolded: Path) -> None:
    before = (scaffolded / "mlgate.yaml").read_text()
    with pytest.raises(
        ConfigError, match=r"refusing to overwrite \d+ existing file\(s\): mlgate\.yaml"
    ):
        init_project(scaffolded)
    assert (scaffolded / "mlgate.yaml").read_text() == before


def _refusal(folder: Path, *links: str) -> str:
    return re.escape(
        f"{folder}: refusing to write through {len(links)} symbolic link(s): "
        f"{', '.join(links)}. mlgate writes only regular files inside the project, never "
        "through a link (it may point outside): remove the link(s), or choose another folder."
    )


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project, with a file of its own."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.yaml").write_text("mine: true\n", encoding="utf-8")
    return folder


def _unchanged(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["precious.yaml"]
    assert (outside / "precious.yaml").read_text(encoding="utf-8") == "mine: true\n"


@pytest.mark.parametrize("force", [False, True])
def test_init_never_writes_through_a_link_to_a_file_outside(
    tmp_path: Path, outside: Path, force: bool
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mlgate.yaml").symlink_to(outside / "precious.yaml")
    (folder / ".gitignore").symlink_to(outside / "not-there-yet")  # dangling
    with pytest.raises(ConfigError, match=f"^{_refusal(folder, 'mlgate.yaml', '.gitignore')}$"):
        init_project(folder, force=force)
    _unchanged(outside)
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "mlgate.yaml"]


def test_a_dangling_config_link_is_not_taken_for_an_absent_file(
    tmp_path: Path, outside: Path
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mlgate.yaml").symlink_to(outside / "created-by-init.yaml")
    result = CliRunner().invoke(app, ["init", str(folder), "--bare"])
    assert result.exit_code == 2
    assert "refusing to write through 1 symbolic link(s): mlgate.yaml" in result.output
    _unchanged(outside)


def test_a_linked_folder_is_refused_for_every_file_under_it(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "data").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError, match=f"^{_refusal(folder, 'data')}$"):
        init_project(folder, force=True)
    _unchanged(outside)


def test_ci_generate_does_not_write_through_a_linked_workflows_folder(
    scaffolded: Path, outside: Path
) -> None:
    workflows = scaffolded / ".github" / "workflows"
    kept = scaffolded.parent / "kept-workflows"
    workflows.rename(kept)
    workflows.symlink_to(outside, target_is_directory=True)
    try:
        result = CliRunner().invoke(app, ["ci", "generate", "-c", str(scaffolded / "mlgate.yaml")])
        assert result.exit_code == 2
        assert "symbolic link(s): .github/workflows." in result.output
        _unchanged(outside)
    finally:
        workflows.unlink()
        kept.rename(workflows)


def test_quickstart_force_does_not_write_through_a_link(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "quick"
    folder.mkdir()
    (folder / "schema.yaml").symlink_to(outside / "precious.yaml")
    result = CliRunner().invoke(app, ["quickstart", str(folder), "--force", "-q"])
    assert result.exit_code == 2
    assert "refusing to write through 1 symbolic link(s): schema.yaml" in result.output
    _unchanged(outside)


def test_bare_init_writes_a_config_to_fill_in(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path / "bare"), "--bare", "--ci", "none"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bare" / "mlgate.yaml").is_file()
    assert not (tmp_path / "bare" / "data" / "train.csv").exists()
    assert not (tmp_path / "bare" / ".github").exists()


def test_an_unknown_example_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", str(tmp_path / "x"), "--example", "nope"])
    assert result.exit_code == 2
    assert "unknown example" in result.output
    assert "Allowed: credit." in result.output


def test_ci_generate_refreshes_only_the_workflows(scaffolded: Path) -> None:
    (scaffolded / ".github" / "workflows" / "ci.yml").write_text("stale")
    config = (scaffolded / "mlgate.yaml").read_text()
    result = CliRunner().invoke(app, ["ci", "generate", "-c", str(scaffolded / "mlgate.yaml")])
    assert result.exit_code == 0, result.output
    assert (scaffolded / ".github" / "workflows" / "ci.yml").read_text().startswith("name: ci")
    assert (scaffolded / "mlgate.yaml").read_text() == config


@pytest.mark.parametrize("python", ["3.9", "3.10.14", "2.7", "latest", "pypy3.10"])
def test_ci_generate_refuses_a_python_mlgate_cannot_run_on(scaffolded: Path, python: str) -> None:
    workflows = scaffolded / ".github" / "workflows"
    before = {path.name: path.read_text() for path in workflows.iterdir()}
    result = CliRunner().invoke(
        app, ["ci", "generate", "-c", str(scaffolded / "mlgate.yaml"), "--python", python]
    )
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == (
        f"error: --python '{python}': mlgate needs Python 3.11 or later, and the workflows "
        "would fail to install it. Pass --python 3.11 (or a later 3.x, e.g. 3.12)."
    )
    assert {path.name: path.read_text() for path in workflows.iterdir()} == before


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13.1", "3.x"])
def test_ci_generate_takes_a_python_mlgate_runs_on(
    scaffolded: Path, tmp_path: Path, python: str
) -> None:
    project = shutil.copytree(scaffolded, tmp_path / "project")
    result = CliRunner().invoke(
        app, ["ci", "generate", "-c", str(project / "mlgate.yaml"), "--python", python]
    )
    assert result.exit_code == 0, result.output
    ci = (project / ".github" / "workflows" / "ci.yml").read_text()
    assert f'python-version: "{python}"' in ci


def test_a_bare_projects_tests_follow_its_gates_for_a_regressor(tmp_path: Path) -> None:
    import sys

    import numpy as np
    import pandas as pd

    folder = tmp_path / "bare"
    init_project(folder, bare=True)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=x @ [3.0, -2.0, 0.5] + 10)
    (folder / "data").mkdir(exist_ok=True)
    frame.to_csv(folder / "data" / "train.csv", index=False)
    config = yaml.safe_load((folder / "mlgate.yaml").read_text(encoding="utf-8"))
    config["data"] |= {"target": "y", "split": {"test_size": 0.2, "seed": 42}}
    config["model"] = {"estimator": "sklearn.linear_model.Ridge", "cv_folds": 0}
    config["gates"] = {"max": {"rmse": 1.0}, "max_regression": {"rmse": 0.1}}
    (folder / "mlgate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLGATE_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b4 passed, 2 skipped\b", done.stdout), done.stdout
