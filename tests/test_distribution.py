"""Releases a team can install: the sdist and wheel build and pass `twine check`, the
wheel installs in a fresh virtual environment and runs the quickstart from there, and
the project `mlgate init` writes there installs mlgate as written."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from mlgate import __version__

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH: the venv's mlgate must be the installed wheel, not a source tree.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"MLGATE_ALLOW_LOCAL_REGISTRY": "true", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: hatchling is in the dev extra, so the build needs no index.
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation", "-o", out, ROOT)
    return out


def _venv(folder: Path) -> Path:
    """A fresh venv that sees this environment's packages (mlgate's dependencies) after its
    own, so installing the wheel needs no index and takes seconds, not minutes. The plain
    path line adds the folder without running its .pth files, so this environment's own
    (editable) mlgate stays out of sight."""
    _run(sys.executable, "-m", "venv", "--without-pip", folder)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)}))
    (site / "outer.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return folder / "bin"


def _pip(venv: Path, *args: str | Path) -> None:
    _run(sys.executable, "-m", "pip", "--python", venv / "python", "install", "-q", *args)


def test_the_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    built = sorted(p.name for p in dist.iterdir())
    assert built == [f"mlgate-{__version__}-py3-none-any.whl", f"mlgate-{__version__}.tar.gz"]
    done = _run(BIN / "twine", "check", "--strict", *sorted(dist.iterdir()))
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_holds_the_package_its_types_and_its_command(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"mlgate-{__version__}-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        info = f"mlgate-{__version__}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert {"mlgate/__init__.py", "mlgate/py.typed", "mlgate/serving/server.py"} <= names
    assert not any(n.startswith(("tests/", "deploy/", "benchmarks/")) for n in names)
    assert "mlgate = mlgate.cli:main" in entry_points


def test_the_wheel_runs_the_quickstart_and_scaffolds_a_project_that_installs(
    dist: Path, tmp_path: Path
) -> None:
    wheel = dist / f"mlgate-{__version__}-py3-none-any.whl"
    venv = _venv(tmp_path / "venv")
    _pip(venv, "--no-index", wheel)  # the wheel's dependencies resolve, or this fails
    where = _run(venv / "python", "-c", "import mlgate; print(mlgate.__file__)").stdout
    assert Path(where.strip()).is_relative_to(tmp_path / "venv")

    done = _run(venv / "mlgate", "quickstart", "demo", cwd=tmp_path)
    assert "credit-risk: PASSED" in done.stdout
    assert "registered models:/credit-risk/1 as champion" in done.stdout

    _run(venv / "mlgate", "init", "project", "--bare", cwd=tmp_path)
    requirements = (tmp_path / "project" / "requirements.txt").read_text(encoding="utf-8")
    assert requirements.splitlines()[0] == f"mlgate @ {wheel.as_uri()}"
    # The scaffold installs as written, in another fresh venv.
    other = _venv(tmp_path / "other")
    _pip(other, "--no-index", "-r", tmp_path / "project" / "requirements.txt")
    version = _run(other / "mlgate", "--version").stdout
    assert __version__ in version


def test_the_release_workflow_publishes_by_trusted_publishing_and_to_ghcr_on_a_tag() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    # PyYAML reads the `on:` key as True.
    assert workflow[True] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    publish = [s.get("uses", "") for s in jobs["pypi"]["steps"]]
    assert publish[-1] == "pypa/gh-action-pypi-publish@release/v1"
    assert jobs["pypi"]["permissions"] == {"id-token": "write"}
    assert not any("password" in s.get("with", {}) for s in jobs["pypi"]["steps"])
    # Only the publishing job may mint an OIDC token; only the image job writes packages.
    for name, job in jobs.items():
        assert ("id-token" in job.get("permissions", {})) == (name == "pypi"), name
        assert (job.get("permissions", {}).get("packages") == "write") == (name == "image")
    image = {s.get("uses", "").split("@")[0]: s for s in jobs["image"]["steps"]}
    assert image["docker/metadata-action"]["with"]["images"] == (
        "ghcr.io/${{ github.repository_owner }}/mlgate"
    )
    assert image["docker/build-push-action"]["with"]["push"] is True
    assert {"pypi", "image"} <= {n for n, j in jobs.items() if j.get("needs") == "build"}
