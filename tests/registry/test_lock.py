"""One writer at a time on a SQLite registry: which URIs have a lock file, how long a
process waits, and two `mlgate run` at once on a fresh project."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mlgate.errors import RegistryError
from mlgate.registry._lock import registry_lock, sqlite_file


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:////srv/project/.mlgate/mlflow.db", "/srv/project/.mlgate/mlflow.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///file:/srv/mlflow.db?cache=shared&uri=true", "/srv/mlflow.db"),
        ("sqlite:///file:/srv/mlflow.db?mode=ro&uri=true", None),
        ("sqlite:///file:/srv/mlflow.db?immutable=1&uri=true", None),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("postgresql://mlflow@db/mlflow", None),
        ("http://127.0.0.1:5000", None),
    ],
)
def test_a_lock_file_only_for_a_sqlite_file_opened_for_writing(
    uri: str, expected: str | None
) -> None:
    found = sqlite_file(uri)
    assert (None if found is None else str(found)) == expected


def test_a_process_waits_for_the_lock_and_says_who_holds_it_when_it_gives_up(
    tmp_path: Path,
) -> None:
    database = tmp_path / "mlflow.db"
    uri = f"sqlite:///{database}"
    held = os.open(tmp_path / "mlflow.db.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        os.write(held, b"4242\n")
        message = (
            f"another mlgate process (pid 4242) has held the registry {database} for over "
            "0.2 s (the lock mlflow.db.lock beside it). Wait for the other `mlgate run` to "
            "finish, or stop it, then run again."
        )
        with (
            pytest.raises(RegistryError, match=f"^{re.escape(message)}$"),
            registry_lock(uri, wait=0.2),
        ):
            pass
    finally:
        os.close(held)  # the lock goes with the descriptor
    with registry_lock(uri, wait=0.2):
        pass


def test_no_lock_where_the_registry_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the folder would be", encoding="utf-8")
    with registry_lock(f"sqlite:///{tmp_path / 'blocked' / 'mlflow.db'}", wait=0.2):
        pass
    with registry_lock("postgresql://mlflow@db/mlflow", wait=0.2):
        pass


def test_two_runs_at_once_on_a_fresh_project_register_versions_1_and_2(
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = new_project(binary_frame)
    assert not (config.parent / ".mlgate").exists()  # MLflow makes its tables in the race
    command = [sys.executable, "-m", "mlgate", "run", "-c", str(config), "-q", "--json"]
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    both = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    done = [p.communicate(timeout=300) for p in both]
    for process, (_, stderr) in zip(both, done, strict=True):
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    registered = sorted(
        (json.loads(stdout)["registration"] for stdout, _ in done), key=lambda r: r["version"]
    )
    assert [(r["version"], r["alias"]) for r in registered] == [
        ("1", "champion"),
        ("2", "challenger"),
    ]
