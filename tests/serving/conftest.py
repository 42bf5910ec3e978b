"""Shared fixtures of the gateway tests: one real registry, built once, copied per test.

The session builds the example project and registers two versions with the real
pipeline: a random forest (champion, version 1) and a logistic regression
(challenger, version 2), so the two disagree on some rows. Each test gets a
copy of the project's files and databases (the artifacts stay where the
registry recorded them), so promotions, rollouts and logs never leak between
tests.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.project import Project as OpenProject
from mlgate.registry.catalog import Catalog
from mlgate.registry.refs import load_ref
from mlgate.road.run import run
from mlgate.scaffold.example import write_example
from mlgate.serving.app import create_app
from mlgate.serving.gateway import Gateway
from mlgate.serving.server import uvicorn_options
from mlgate.training.preprocessing import prepare_features
from serving.requests import REGRESSOR

NAME = "credit-risk"
CHAMPION, CHALLENGER = "1", "2"
TOKEN = "s3cret-admin-token"


def _clean_environment(patch: pytest.MonkeyPatch) -> None:
    """No MLGATE_* (or MLflow) variable of the machine may steer a test."""
    for variable in list(os.environ):
        if variable.startswith("MLGATE_") or variable in (
            "MLFLOW_TRACKING_URI",
            "PROMETHEUS_MULTIPROC_DIR",
        ):
            patch.delenv(variable)


@dataclass(frozen=True)
class Registered:
    """The project built once: its folder, and each version's own predictions on test.csv."""

    folder: Path
    test: pd.DataFrame
    labels: dict[str, list[Any]]
    probabilities: dict[str, np.ndarray[Any, Any]]

    @property
    def features(self) -> list[str]:
        return [c for c in self.test.columns if c != "default"]

    def records(self, rows: slice = slice(None)) -> list[dict[str, Any]]:
        """Test rows as JSON objects (missing numbers as null)."""
        return [
            {name: _plain(value) for name, value in record.items() if name != "default"}
            for record in self.test.iloc[rows].to_dict("records")
        ]

    def lists(self, rows: slice = slice(None)) -> list[list[Any]]:
        """Test rows as JSON lists in feature order."""
        return [[record[f] for f in self.features] for record in self.records(rows)]

    def columns(self, rows: slice = slice(None)) -> dict[str, list[Any]]:
        """Test rows as one JSON list per feature."""
        records = self.records(rows)
        return {f: [r[f] for r in records] for f in self.features}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """The example project with a champion (forest) and a challenger (logistic regression)."""
    folder = tmp_path_factory.mktemp("registered") / "project"
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        config = write_example(folder, rows=600)
        doc = yaml.safe_load(config.read_text(encoding="utf-8"))
        doc["model"]["cv_folds"] = 0
        config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        assert run(load_config(config), register=True).passed
        doc["model"] = {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 500},
            "cv_folds": 0,
        }
        doc["gates"] = {"min": {"accuracy": 0.7}}
        config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        assert run(load_config(config), register=True).passed
        catalog = OpenProject(folder, Settings()).catalog
        assert catalog.aliases(NAME) == {"champion": CHAMPION, "challenger": CHALLENGER}
        test = pd.read_csv(folder / "data" / "test.csv")
        labels, probabilities = {}, {}
        for version in (CHAMPION, CHALLENGER):
            loaded = load_ref(f"models:/{NAME}/{version}", catalog=catalog)
            assert loaded.card.onnx is not None, "the fast path is what the gateway serves"
            frame = prepare_features(test, loaded.card.kinds)
            labels[version] = np.asarray(loaded.model.predict(frame)).tolist()
            probabilities[version] = np.asarray(loaded.model.predict_proba(frame))
    assert labels[CHAMPION] != labels[CHALLENGER], "the two versions must disagree somewhere"
    return Registered(folder, test, labels, probabilities)


@pytest.fixture(scope="session")
def registered_regressor(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """A project whose champion (version 1) is a ridge regression, exported to ONNX, with
    its own predictions (`labels["1"]`) on the held-out rows (`test`, features only)."""
    from sklearn.datasets import load_diabetes

    folder = tmp_path_factory.mktemp("regressor") / "project"
    folder.mkdir()
    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "y"})
    frame.iloc[:360].to_csv(folder / "train.csv", index=False)
    frame.iloc[360:].to_csv(folder / "test.csv", index=False)
    config = {
        "name": REGRESSOR,
        "data": {"train": "train.csv", "test": "test.csv", "target": "y"},
        "model": {"estimator": "sklearn.linear_model.Ridge", "cv_folds": 0},
    }
    (folder / "mlgate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        assert run(load_config(folder / "mlgate.yaml"), register=True).passed
        catalog = OpenProject(folder, Settings()).catalog
        loaded = load_ref(f"models:/{REGRESSOR}/1", catalog=catalog)
    assert loaded.card.onnx is not None, "the fast path is what the gateway serves"
    test = frame.iloc[360:].drop(columns="y").reset_index(drop=True)
    own = loaded.model.predict(prepare_features(test, loaded.card.kinds))
    return Registered(folder, test, {"1": np.asarray(own).tolist()}, {})


@pytest.fixture
def regressor_project(
    registered_regressor: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """A fresh copy of the regressor's project, with no MLGATE_* variable set."""
    _clean_environment(monkeypatch)
    return copy_project(registered_regressor, tmp_path / "regressor")


@dataclass(frozen=True)
class Project:
    """A private copy of the registered project for one test."""

    config: Path
    base_dir: Path
    registered: Registered

    @property
    def logs(self) -> str:
        return str(self.base_dir / ".mlgate" / "logs")

    def opened(self) -> OpenProject:
        return OpenProject(self.base_dir, Settings())

    def catalog(self) -> Catalog:
        return self.opened().catalog


def copy_project(registered: Registered, target: Path) -> Project:
    """The project's config, data and databases in `target` (artifacts stay shared)."""
    source = registered.folder
    target.mkdir(parents=True)
    for path in source.iterdir():  # config, schema, data: what the project holds
        if path.is_file():
            shutil.copy2(path, target / path.name)
        elif path.name != ".mlgate":
            shutil.copytree(path, target / path.name)
    (target / ".mlgate").mkdir()
    for name in ("mlflow.db", "state.db"):
        shutil.copy2(source / ".mlgate" / name, target / ".mlgate" / name)
    return Project(target / "mlgate.yaml", target, registered)


@pytest.fixture
def project(registered: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh copy of the registered project, with no MLGATE_* variable set."""
    _clean_environment(monkeypatch)
    return copy_project(registered, tmp_path / "project")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_gateway(project: Project, **settings: Any) -> Gateway:
    """A gateway with its models loaded; `settings` are Settings fields."""
    chosen = Settings(**settings)
    config = load_config(project.config)
    gateway = Gateway(OpenProject(config.base_dir, chosen, config))
    gateway.load()
    return gateway


@dataclass
class Running:
    """An app with its lifespan started, and a client that talks to it in-process."""

    gateway: Gateway
    app: Any
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running(gateway: Gateway, *, lifespan: bool = True) -> AsyncIterator[Running]:
    """Start the app's lifespan (watcher, log writers), yield a client, then shut down.

    Without `lifespan` the app answers but nothing runs beside it (for refusals).
    """
    app = create_app(gateway)
    async with contextlib.AsyncExitStack() as stack:
        if lifespan:
            await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://gateway")
        )
        yield Running(gateway, app, client)


@contextlib.contextmanager
def in_thread(gateway: Gateway, timeout: float = 30.0) -> Iterator[str]:
    """A real uvicorn serving the gateway on 127.0.0.1 from a thread of this process; its URL."""
    import threading

    import uvicorn

    config = uvicorn.Config(
        create_app(gateway),
        host="127.0.0.1",
        port=free_port(),
        **uvicorn_options(gateway.settings, "warning"),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        assert not thread.is_alive(), "uvicorn did not stop"


@dataclass(frozen=True)
class Kit:
    """The helpers above, for test modules (which cannot import a conftest)."""

    make_gateway: Callable[..., Gateway]
    running: Callable[..., contextlib.AbstractAsyncContextManager[Running]]
    in_thread: Callable[..., contextlib.AbstractContextManager[str]]
    copy_project: Callable[[Registered, Path], Project]


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit(make_gateway, running, in_thread, copy_project)


@pytest.fixture(scope="module")
def module_project(
    registered: Registered, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    """One copy of the project for a module whose tests change nothing in it."""
    with pytest.MonkeyPatch.context() as patch:
        _clean_environment(patch)
        yield copy_project(registered, tmp_path_factory.mktemp("module") / "project")


@pytest.fixture
def serve(project: Project) -> Callable[..., contextlib.AbstractAsyncContextManager[Running]]:
    """`async with serve(admin_token=...) as s:` runs the project's gateway for one block."""

    def start(**settings: Any) -> contextlib.AbstractAsyncContextManager[Running]:
        return running(make_gateway(project, **settings))

    return start


# --- a real server in a subprocess -------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """`mlgate serve` running in a subprocess on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    url: str
    output: Path

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait (bounded) for a graceful exit; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def start_server(
    project: Project, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0
) -> Server:
    """Start `python -m mlgate serve` for the project and wait until it is ready."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLGATE_")
        and k not in ("MLFLOW_TRACKING_URI", "PROMETHEUS_MULTIPROC_DIR")
    }
    environment |= env or {}
    output = project.base_dir / "server.log"
    for _attempt in range(3):  # a port taken between free_port() and bind: try another
        port = free_port()
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "mlgate", "serve", "-c", str(project.config)),
                    *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                    *args,
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=project.base_dir,
            )
        server = Server(process, f"http://127.0.0.1:{port}", output)
        if _wait_ready(server, timeout):
            return server
        if process.poll() is None:
            server.stop()
        if "address already in use" not in server.log().lower():
            break
    raise AssertionError(f"the gateway did not become ready:\n{server.log()}")


def _wait_ready(server: Server, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{server.url}/v2/health/ready", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def server_for(project: Project) -> Iterator[Callable[..., Server]]:
    """Start servers for the test's project; any still running at the end are stopped."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        server = start_server(project, *args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()
