"""MLflow's own clients of a registered version answer exactly what the gateway, a real
uvicorn on 127.0.0.1, answers for the same rows: `mlflow.pyfunc.load_model`,
`mlflow.pyfunc.spark_udf` on a local Spark, and `mlflow models serve --env-manager
local`. Each loads the version through its MLmodel, whose loader is mlgate's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from serving.requests import MODEL, REGRESSOR

#: How long `mlflow models serve` may take to answer its first /ping.
STARTUP_S = 90.0

KINDS = [pytest.param("classifier", id="classifier"), pytest.param("regressor", id="regressor")]


@pytest.fixture
def chosen(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any, Any]]:
    """(registered name, project copy, registered) of the kind the test asks for, with
    MLflow pointed at that project's registry (reset after)."""
    import mlflow

    kind = request.param
    project = request.getfixturevalue("project" if kind == "classifier" else "regressor_project")
    registered = request.getfixturevalue(
        "registered" if kind == "classifier" else "registered_regressor"
    )
    uri = project.catalog().uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield (MODEL if kind == "classifier" else REGRESSOR), project, registered
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def gateway_says(kit: Any, project: Any, registered: Any) -> list[dict[str, Any]]:
    """The gateway's /invocations answer for every held-out row, one object per row."""
    body = {"dataframe_split": {"columns": registered.features, "data": registered.lists()}}
    with kit.in_thread(kit.make_gateway(project)) as url:
        response = httpx.post(f"{url}/invocations", json=body, timeout=30.0)
    assert response.status_code == 200, response.text
    answer: list[dict[str, Any]] = response.json()["predictions"]
    return answer


def as_mlflow_takes(registered: Any) -> pd.DataFrame:
    """The held-out rows with numbers as doubles: MLflow's signature check refuses to
    convert integer columns to the doubles it declares."""
    frame: pd.DataFrame = registered.test[registered.features]
    numbers = frame.select_dtypes("number").columns
    return frame.astype(dict.fromkeys(numbers, "float64"))


@pytest.mark.parametrize("chosen", KINDS, indirect=True)
def test_pyfunc_load_model_answers_what_the_gateway_answers(
    kit: Any, chosen: tuple[str, Any, Any]
) -> None:
    import mlflow.pyfunc

    name, project, registered = chosen
    expected = gateway_says(kit, project, registered)
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    got = model.predict(as_mlflow_takes(registered))
    assert got.to_dict(orient="records") == expected
    assert list(expected[0]) == (["label", "probabilities"] if name == MODEL else ["prediction"])


@pytest.mark.parametrize("chosen", KINDS, indirect=True)
def test_spark_udf_answers_what_the_gateway_answers(
    kit: Any, chosen: tuple[str, Any, Any], spark: Any
) -> None:
    import mlflow.pyfunc
    from pyspark.sql.functions import struct

    name, project, registered = chosen
    expected = gateway_says(kit, project, registered)
    # No result_type: Spark's type is read from the MLmodel's signature.
    udf = mlflow.pyfunc.spark_udf(spark, f"models:/{name}@champion", env_manager="local")
    frame = as_mlflow_takes(registered)
    rows = spark.createDataFrame(frame).select(udf(struct(*frame.columns)).alias("answer"))
    answers = [row.answer for row in rows.collect()]
    if name == MODEL:
        assert [a.asDict() for a in answers] == expected
    else:
        assert [{"prediction": a} for a in answers] == expected


def test_mlflow_models_serve_answers_what_the_gateway_answers(
    kit: Any, project: Any, registered: Any, tmp_path: Path
) -> None:
    expected = gateway_says(kit, project, registered)
    uri = project.catalog().uri
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = str(Path(sys.executable).parent)
    env = os.environ | {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    command = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}@champion"]
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
        _wait_until_up(process, url)
        body = {"dataframe_split": {"columns": registered.features, "data": registered.lists()}}
        answer = httpx.post(f"{url}/invocations", json=body, timeout=30.0)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(process: subprocess.Popen[bytes], url: str) -> None:
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
