"""`mlflow models serve` of a registered version answers as mlgate predicts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from mlgate.config.loader import load_config
from mlgate.project import Project
from mlgate.registry.refs import load_ref
from mlgate.road.run import run
from mlgate.training.preprocessing import prepare_features

FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10},
    "cv_folds": 0,
}
#: How long the server may take to answer its first /ping.
STARTUP_S = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "mlflow models serve exited before answering"
        try:
            if httpx.get(f"{url}/ping", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"mlflow models serve did not answer within {STARTUP_S} s")


def test_mlflow_models_serve_answers_as_mlgate_predicts(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
) -> None:
    registry_for(tmp_path / "project")
    config = new_project(binary_frame.iloc[:160], test=binary_frame.iloc[160:], model=FOREST)
    result = run(load_config(config), apply_gates=False, register=True)
    catalog = Project(tmp_path / "project").catalog
    rows = binary_frame.drop(columns="label").iloc[160:200]
    loaded = load_ref("models:/demo/1", catalog=catalog)
    expected = loaded.model.predict(prepare_features(rows, loaded.card.kinds)).tolist()
    assert result.registration is not None

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {
        "MLFLOW_TRACKING_URI": catalog.uri,
        "MLFLOW_REGISTRY_URI": catalog.uri,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    command = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", "models:/demo/1"]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    # A session of its own: the server runs in a child of the CLI, and both are stopped.
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(process, url)
        body = {"dataframe_split": rows.to_dict(orient="split", index=False)}
        answer = httpx.post(f"{url}/invocations", json=body, timeout=30.0)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}
        assert np.asarray(expected).dtype.kind in "OU"  # labels, not numbers
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
