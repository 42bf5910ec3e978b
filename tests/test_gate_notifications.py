"""A failed gate is sent to the webhook, as Slack-compatible JSON."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.config.loader import load_config
from mlgate.road.run import run

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
