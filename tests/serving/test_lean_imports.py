"""A gateway serving ONNX exports imports no scikit-learn until something needs the
model itself: an explanation builds it then, from its files checked again. Nor does
it import MLflow to read its local registry.

Checked in a fresh interpreter (this one has scikit-learn imported by the fixtures),
the way a worker process starts: build the gateway and its app, list what was
imported, answer a prediction, then an explanation, and list again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mlgate
from serving.requests import MODEL

pytest.importorskip("shap")

PROBE = """
import json, sys
from pathlib import Path
from starlette.testclient import TestClient
from mlgate.serving.app import create_app
from mlgate.serving.server import build_gateway

WATCHED = ("sklearn", "skops", "mlgate.training.explain")
name, body = sys.argv[2], json.loads(Path(sys.argv[3]).read_text())
gateway = build_gateway(Path(sys.argv[1]), convert=False)
client = TestClient(create_app(gateway))
found = {"at_start": sorted(m for m in WATCHED if m in sys.modules)}
found["mlflow_at_start"] = "mlflow" in sys.modules
answer = client.post(f"/v2/models/{name}/infer", json=body)
found["infer"] = answer.status_code
found["after_infer"] = sorted(m for m in WATCHED if m in sys.modules)
answer = client.post(f"/v2/models/{name}/explain", json=body)
found["explain"] = answer.status_code
found["answer"] = answer.json()
found["after_explain"] = sorted(m for m in WATCHED if m in sys.modules)
gateway.close()
print(json.dumps(found))
"""


def _probe(project: Any, body: dict[str, Any], folder: Path, **env: str) -> dict[str, Any]:
    given = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")} | env
    # The mlgate under test, whatever folder the probe runs in.
    given["PYTHONPATH"] = str(Path(mlgate.__file__).resolve().parents[1])
    request = folder / "request.json"
    request.write_text(json.dumps(body), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(project.config), MODEL, str(request)],
        capture_output=True,
        text=True,
        env=given,
        cwd=project.base_dir,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _body(registered: Any) -> dict[str, Any]:
    lists = registered.lists(slice(0, 3))
    shape = [len(lists), len(registered.features)]
    return {"inputs": [{"name": "input", "shape": shape, "datatype": "BYTES", "data": lists}]}


@pytest.mark.parametrize("challenger", [True, False], ids=["canary", "champion-only"])
def test_scikit_learn_is_imported_only_when_an_explanation_needs_the_model(
    project: Any, registered: Any, tmp_path: Path, challenger: bool
) -> None:
    if not challenger:  # an alias that points nowhere is told from the tables too
        catalog = project.catalog()
        catalog.move_alias(MODEL, "challenger", None, action="rollback", reason="test")
    found = _probe(project, _body(registered), tmp_path)
    assert found["at_start"] == []
    assert found["mlflow_at_start"] is False  # the registry's tables read without it
    assert (found["infer"], found["after_infer"]) == (200, [])
    assert found["explain"] == 200, found["answer"]
    assert found["after_explain"] == ["mlgate.training.explain", "sklearn", "skops"]
    rows = found["answer"]["rows"]
    assert len(rows) == 3
    assert all(set(row["attributions"]) == {"0", "1"} for row in rows), rows[0]
    assert found["answer"]["method"] == "tree"


def test_a_version_served_by_its_own_library_is_built_at_start(
    project: Any, registered: Any, tmp_path: Path
) -> None:
    found = _probe(project, _body(registered), tmp_path, MLGATE_ONNX="false")
    assert found["at_start"] == ["sklearn", "skops"]
    assert found["infer"] == 200
