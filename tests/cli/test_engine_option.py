"""The data commands' `--engine`: an unknown engine, or spark without pyspark, is a usage
error (exit 2) that says what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlgate.cli import app

COMMANDS = {
    "validate": ["validate", "data.parquet", "--schema", "schema.yaml"],
    "drift": ["drift", "ref.parquet", "cur.parquet"],
    "schema infer": ["schema", "infer", "data.parquet"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_without_pyspark_the_spark_engine_is_a_usage_error_naming_the_extra(
    command: str, tmp_path: Path, mlgate_env: dict[str, str]
) -> None:
    blocked = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None\n"
        "from mlgate.cli import main\n"
        f"sys.argv = ['mlgate', *{COMMANDS[command]!r}, '--engine', 'spark']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=mlgate_env,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: --engine: the spark engine needs pyspark, which is not installed. Got 'spark'. "
        "Install it with `pip install 'mlgate[spark]'`, or use --engine local."
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_engine_is_a_usage_error(
    command: str, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*COMMANDS[command], "--engine", "dask"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --engine: unknown engine. Got 'dask'.")
    assert "local, spark" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("missing", ["nope.parquet", "data/nope"])
def test_a_missing_local_path_is_refused_before_spark_starts(
    command: str, missing: str, tmp_path: Path, mlgate_env: dict[str, str]
) -> None:
    # A subprocess, so that nothing Spark would log (a JVM's start, a Java stack trace
    # for the missing path) can hide from the assertion on the whole of stderr.
    (tmp_path / "schema.yaml").write_text("columns: {}\n", encoding="utf-8")
    args = [missing if a.endswith(".parquet") else a for a in COMMANDS[command]]
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", *args, "--engine", "spark"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=mlgate_env,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: {missing}: file not found. Check the path.\n"
