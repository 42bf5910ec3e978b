"""After a run: the gate against the champion, the registered version, the aliases it earns."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.project import Project
from mlgate.registry import aliases
from mlgate.registry.catalog import CHALLENGER, CHAMPION, Catalog
from mlgate.results import RunResult
from mlgate.road.run import run

DUMMY = {"estimator": "sklearn.dummy.DummyClassifier", "cv_folds": 0}
FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10},
    "cv_folds": 0,
}
GATES = {"max_regression": {"accuracy": 0.02}}


@pytest.fixture
def road(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
) -> Callable[..., RunResult]:
    """`road(model=..., gates=...)`: one registered run of the project on the same data."""
    registry_for(tmp_path / "project")
    train, test = binary_frame.iloc[:160], binary_frame.iloc[160:]
    # a schema that only names the columns: test rows may fall outside train's ranges
    schema = {"columns": {name: {} for name in binary_frame}}
    (tmp_path / "project" / "schema.yaml").write_text(yaml.safe_dump(schema), encoding="utf-8")

    def go(model: dict[str, Any] | None = None, gates: dict[str, Any] | None = None) -> RunResult:
        config = new_project(
            train, test=test, model=model or FOREST, gates=gates or GATES, schema="schema.yaml"
        )
        return run(load_config(config), register=True)

    return go


def catalog_of(result: RunResult) -> Catalog:
    return Project(Path(result.output_dir).parents[3]).catalog


def test_the_first_version_to_pass_becomes_champion(road: Callable[..., RunResult]) -> None:
    result = road()
    assert result.passed
    assert result.comparison is None  # nothing to compare with yet
    registration = result.registration
    assert registration is not None
    assert registration.model_dump() | {"registry": "-"} == {
        "name": "demo",
        "version": "1",
        "uri": "models:/demo/1",
        "alias": CHAMPION,
        "registry": "-",
    }
    assert registration.registry.startswith("sqlite:///")
    assert registration.registry.endswith("project/.mlgate/mlflow.db")
    catalog = catalog_of(result)
    info = catalog.version("demo", "1")
    assert info.aliases == [CHAMPION]
    assert info.passed is True
    assert info.sha256 == result.model.sha256  # type: ignore[union-attr]
    assert info.tags["mlgate.stage"] == "done"
    assert info.tags["mlgate.run_id"] == result.run_id
    assert info.tags["mlgate.config_hash"] == result.lineage.config_hash
    assert info.tags["mlgate.train_fingerprint"] == result.lineage.train_fingerprint
    assert "scikit-learn=" in info.tags["mlgate.packages"]
    assert info.metrics["accuracy"] == result.metrics["accuracy"]
    assert info.metrics["model_size_mb"] == result.model.size_bytes / 1e6  # type: ignore[union-attr]
    assert info.metrics["training_time_s"] > 0
    folder = catalog.local_path(info)
    assert {"model.skops", "model.json", "test.parquet", "schema.yaml", "run.json"} <= {
        p.name for p in folder.iterdir()
    }
    [event] = catalog.history("demo")
    assert (event.alias, event.from_version, event.to_version, event.action) == (
        CHAMPION,
        None,
        "1",
        "register",
    )
    saved = json.loads((Path(result.output_dir) / "run.json").read_text(encoding="utf-8"))
    assert saved["registration"]["uri"] == "models:/demo/1"


def test_a_worse_version_is_registered_failed_without_an_alias(
    road: Callable[..., RunResult],
) -> None:
    champion = road()
    worse = road(model=DUMMY)
    assert not worse.passed
    assert worse.stage == "gate"
    assert worse.comparison is not None
    assert worse.comparison.baseline_ref == "models:/demo/1 (champion)"
    assert worse.comparison.test_samples == 80  # the candidate's own test rows
    loss = champion.metrics["accuracy"] - worse.metrics["accuracy"]  # type: ignore[operator]
    [reason] = worse.reasons
    assert reason.startswith(f"accuracy: loss against the champion {loss:+.4f}")
    assert f"observed loss {loss:+.4f} beyond the allowed 0.02" in reason
    registration = worse.registration
    assert registration is not None
    assert (registration.version, registration.alias) == ("2", None)
    catalog = catalog_of(worse)
    info = catalog.version("demo", "2")
    assert (info.passed, info.reasons, info.aliases) == (False, [reason], [])
    assert info.tags["mlgate.passed"] == "false"
    assert info.tags["mlgate.stage"] == "gate"
    assert catalog.alias("demo", CHAMPION).version == "1"  # type: ignore[union-attr]
    assert len(catalog.history("demo")) == 1  # the failed version moved nothing
    assert (Path(worse.output_dir) / "comparison.json").exists()


def test_an_equal_version_becomes_challenger_and_replaces_the_last(
    road: Callable[..., RunResult],
) -> None:
    road()
    second, third = road(), road()
    assert second.passed
    assert third.passed
    assert second.comparison is not None
    assert second.comparison.metrics["accuracy"].difference == 0
    assert (second.registration.version, second.registration.alias) == ("2", CHALLENGER)  # type: ignore[union-attr]
    assert (third.registration.version, third.registration.alias) == ("3", CHALLENGER)  # type: ignore[union-attr]
    catalog = catalog_of(third)
    assert catalog.aliases("demo") == {CHALLENGER: "3", CHAMPION: "1"}
    assert [(e.alias, e.from_version, e.to_version) for e in catalog.history("demo")] == [
        (CHAMPION, None, "1"),
        (CHALLENGER, None, "2"),
        (CHALLENGER, "2", "3"),
    ]


def test_when_the_first_version_fails_the_next_that_passes_is_champion(
    road: Callable[..., RunResult],
) -> None:
    failed = road(model=DUMMY, gates={"min": {"accuracy": 0.8}})
    assert not failed.passed
    assert failed.registration.alias is None  # type: ignore[union-attr]
    passed = road()
    assert passed.comparison is None  # still no champion to compare with
    assert (passed.registration.version, passed.registration.alias) == ("2", CHAMPION)  # type: ignore[union-attr]


def test_a_champion_that_cannot_be_loaded_never_holds_the_project_hostage(
    road: Callable[..., RunResult],
) -> None:
    first = road()
    catalog = catalog_of(first)
    model = catalog.local_path(catalog.version("demo", "1")) / "model.skops"
    model.write_bytes(model.read_bytes()[:-10])
    second = road()  # registered, failed, saying why and what to do
    assert second.registration is not None
    assert second.registration.version == "2"
    assert not second.passed
    assert second.reasons == [
        "cannot compare with the champion: the champion, version 1, cannot be loaded: "
        "the model file's sha256 does not match the one recorded when it was "
        "written; it was altered or replaced. Retire it with `mlgate models rollback demo` "
        "(to the champion before it, or to none), or promote this version by hand with "
        "`mlgate models promote demo VERSION --force`."
    ]
    assert catalog.alias("demo", CHAMPION).version == "1"  # type: ignore[union-attr]
    aliases.rollback(  # a person retires it
        catalog, "demo", reason="it will not load"
    )
    assert catalog.alias("demo", CHAMPION) is None
    third = road()  # and the road runs again
    assert third.passed
    assert catalog.alias("demo", CHAMPION).version == "3"  # type: ignore[union-attr]


CONFIG = """\
name: notified
data: {train: train.csv, target: y, split: {test_size: 0.3, seed: 1}}
model: {estimator: sklearn.dummy.DummyClassifier, cv_folds: 0}
gates: {min: {accuracy: 0.99}}
"""


def test_a_failed_gate_reaches_the_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 2))
        pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)}).to_csv(
            tmp_path / "train.csv", index=False
        )
        (tmp_path / "mlgate.yaml").write_text(CONFIG)
        monkeypatch.setenv("MLGATE_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
        result = run(load_config(tmp_path / "mlgate.yaml"), register=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert not result.passed
    assert [m["event"] for m in received] == ["gate_failed"]
    assert received[0]["text"].startswith("mlgate notified: version 1 FAILED its gates: accuracy")
