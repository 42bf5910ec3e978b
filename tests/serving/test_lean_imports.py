"""A gateway serving ONNX exports imports no scikit-learn: its workers hold less.

Checked in a fresh interpreter (this one has scikit-learn imported by the fixtures),
the way a worker process starts: build the gateway, then list what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

PROBE = """
import json, sys
from pathlib import Path
from mlgate.serving.server import build_gateway

gateway = build_gateway(Path(sys.argv[1]), convert=False)
served = gateway.describe()
gateway.close()
print(json.dumps({"champion": served["champion"],
                  "imported": sorted(m for m in ("sklearn", "skops") if m in sys.modules)}))
"""


def _imported(project: Any, **env: str) -> dict[str, object]:
    given = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")} | env
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(project.config)],
        capture_output=True,
        text=True,
        env=given,
        cwd=project.base_dir,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("onnx", "imported"), [("true", []), ("false", ["sklearn", "skops"])], ids=["onnx", "own"]
)
def test_scikit_learn_is_imported_only_when_a_version_is_served_by_it(
    project: Any, onnx: str, imported: list[str]
) -> None:
    found = _imported(project, MLGATE_ONNX=onnx)
    assert found["imported"] == imported
    assert found["champion"]
