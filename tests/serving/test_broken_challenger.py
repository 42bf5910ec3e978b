"""A challenger that cannot be loaded is left out, said so, and the champion serves:
`mlgate serve` on 127.0.0.1 with a challenger whose model file was altered.

It used to stop the gateway from starting at all, champion included.
"""

from __future__ import annotations

import shutil
import sqlite3
from typing import Any

import httpx

from serving.requests import MODEL, ROW


def _tamper_with_the_challenger(project: Any) -> None:
    """The challenger's files copied into the project, its model file cut short, and the
    project's registry pointed at the copy (the registered files are shared by tests)."""
    catalog = project.catalog()
    registered = catalog.local_path(catalog.version(MODEL, "2"))
    copy = project.base_dir / "tampered" / "model"
    shutil.copytree(registered, copy)
    model = copy / "model.skops"
    model.write_bytes(model.read_bytes()[:-10])
    with sqlite3.connect(project.base_dir / ".mlgate" / "mlflow.db") as db:
        db.execute(
            "UPDATE model_versions SET source = ?, storage_location = ? "
            "WHERE name = ? AND version = 2",
            (copy.as_uri(), copy.as_uri(), MODEL),
        )


def test_the_champion_serves_when_the_challenger_was_tampered_with(
    server_for: Any, project: Any
) -> None:
    _tamper_with_the_challenger(project)
    server = server_for()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answers = [client.post("/predict", json={"instances": [ROW]}) for _ in range(5)]
        health = client.get("/health").json()
    assert {a.status_code for a in answers} == {200}
    assert {a.headers["x-mlgate-version"] for a in answers} == {"1"}
    assert health["champion"] == "1"
    assert health["challenger"] is None
    assert health["skipped"]["version"] == "2"
    assert "sha256 does not match" in health["skipped"]["error"]
    assert server.stop() == 0
    said = server.log()
    assert "challenger version 2 of credit-risk cannot be loaded, so it is not served" in said
    assert "Traceback" not in said
