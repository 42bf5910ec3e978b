"""Registrations a killed process left half done: closed by the next registration, and
only when the process that made them is certainly gone."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from catalog_support import register

from mlgate.registry._abandoned import KILLED, owner_tags
from mlgate.registry.catalog import Catalog
from mlgate.registry.versions import CHAMPION

#: A process that registers the bundle and is SIGKILLed inside the registration's block,
#: after the version is made (and, with "alias", after champion is moved to it).
_KILLED_WHILE_REGISTERING = """
import os, signal, sys
from pathlib import Path
from mlgate.project import Project

folder, bundle, stage = sys.argv[1:]
catalog = Project(Path(folder)).catalog
with catalog.registering(
    "demo", Path(bundle), passed=True, reasons=[], metrics={"accuracy": 0.9}, params={},
    tags={}, sha256="", run_name="killed",
) as info:
    if stage == "alias":
        catalog.move_alias("demo", "champion", info.version, action="register", reason="first")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_while_registering(catalog: Catalog, bundle: Path, stage: str) -> None:
    folder = Path(catalog.uri.removeprefix("sqlite:///")).parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_REGISTERING, str(folder), str(bundle), stage],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def _status(catalog: Catalog, run_id: str | None) -> str:
    assert run_id is not None
    return str(catalog.client.get_run(run_id).info.status)


def test_a_passed_version_whose_process_was_killed_is_marked_failed_by_the_next(
    catalog: Catalog, bundle: Path
) -> None:
    _killed_while_registering(catalog, bundle, "version")
    (left,) = catalog.versions("demo")
    assert left.passed is True
    assert _status(catalog, left.run_id) == "RUNNING"

    second = register(catalog, bundle)

    first = catalog.version("demo", "1")
    assert (first.passed, first.reasons, first.aliases) == (False, [KILLED], [])
    assert catalog.client.get_model_version("demo", "1").description == f"FAILED: {KILLED}"
    assert _status(catalog, first.run_id) == "FAILED"
    assert (second.version, second.passed) == ("2", True)
    assert _status(catalog, second.run_id) == "FINISHED"


def test_a_killed_registration_that_had_moved_its_alias_is_finished_not_failed(
    catalog: Catalog, bundle: Path
) -> None:
    _killed_while_registering(catalog, bundle, "alias")
    register(catalog, bundle)
    first = catalog.version("demo", "1")
    assert (first.passed, first.reasons, first.aliases) == (True, [], [CHAMPION])
    assert _status(catalog, first.run_id) == "FINISHED"


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_only_runs_of_processes_certainly_gone_are_closed(catalog: Catalog, bundle: Path) -> None:
    register(catalog, bundle)  # the experiment
    client = catalog.client
    (experiment,) = [
        e.experiment_id for e in client.search_experiments() if e.name == "mlgate/demo"
    ]
    mine = owner_tags()
    runs = {
        "alive": mine,
        "another host": mine | {"mlgate.host": "elsewhere", "mlgate.pid": str(_dead_pid())},
        "dead": mine | {"mlgate.pid": str(_dead_pid())},
        # This process's id, but the process that had it started at another time.
        "id reused": mine | {"mlgate.pid_started": "1"},
        "no owner": {},
    }
    made = {
        k: client.create_run(experiment, run_name=k, tags=t).info.run_id for k, t in runs.items()
    }
    register(catalog, bundle)
    statuses = {k: _status(catalog, run_id) for k, run_id in made.items()}
    assert statuses == {
        "alive": "RUNNING",
        "another host": "RUNNING",
        "dead": "FAILED",
        "id reused": "FAILED",
        "no owner": "RUNNING",
    }
    assert client.get_run(made["dead"]).data.tags["mlgate.reasons"] == json.dumps([KILLED])


def test_a_block_that_raises_leaves_its_version_failed_and_its_run_failed(
    catalog: Catalog, bundle: Path
) -> None:
    with (
        pytest.raises(RuntimeError, match=r"^the state store refused$"),
        catalog.registering(
            "demo",
            bundle,
            passed=True,
            reasons=[],
            metrics={},
            params={},
            tags={},
            sha256="",
            run_name="cut short",
        ),
    ):
        raise RuntimeError("the state store refused")
    (version,) = catalog.versions("demo")
    assert (version.passed, version.reasons) == (
        False,
        ["its registration did not finish: the state store refused"],
    )
    assert _status(catalog, version.run_id) == "FAILED"


# --- mlgate run, SIGKILLed while it registers, then run again ----------------------------


def _runs(database: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return db.execute("SELECT run_uuid, status FROM runs").fetchall()
    except sqlite3.Error:  # not made yet, or being made
        return []


def test_mlgate_run_killed_while_registering_is_closed_by_the_next_run(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
) -> None:
    config = new_project(binary_frame)
    database = registry_for(config.parent)
    command = [sys.executable, "-m", "mlgate", "run", "-c", str(config), "-q"]
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    killed = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not _runs(database) and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert killed.returncode == -signal.SIGKILL, "the run ended before it was killed"
    ((first, status),) = _runs(database)
    assert status == "RUNNING"

    again = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    registered = json.loads(again.stdout)["registration"]
    assert dict(_runs(database))[first] == "FAILED"
    with sqlite3.connect(database) as db:
        versions = db.execute("SELECT version, run_id FROM model_versions").fetchall()
        aliases = db.execute("SELECT alias, version FROM registered_model_aliases").fetchall()
        tags = dict(
            db.execute(
                "SELECT version, value FROM model_version_tags WHERE key = 'mlgate.passed'"
            ).fetchall()
        )
    # Killed before or after its version was made: either way only the second serves.
    ours = [v for v, run_id in versions if run_id != first]
    theirs = [v for v, run_id in versions if run_id == first]
    assert [str(v) for v in ours] == [registered["version"]]
    assert all(tags[v] == "false" for v in theirs)
    assert aliases == [(CHAMPION, int(registered["version"]))]
    assert registered["alias"] == CHAMPION
