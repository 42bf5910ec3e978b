"""Serving throughput, side by side: MLflow's server, the FastAPI + ONNX Runtime floor, mlgate.

One RandomForest (100 trees, 20 numeric features, binary) is trained through mlgate's
own road on generated data and registered with its ONNX export. The same fitted
scikit-learn model is logged with `mlflow.sklearn.log_model` for `mlflow models
serve`; the floor (a minimal FastAPI + ONNX Runtime app, defined in this file) loads
the same ONNX file mlgate serves. Every server answers the same request, one row in
MLflow's `dataframe_split` form POSTed to `/invocations`, from the same load generator:
wrk with a Lua script, 1 and 16 connections, one thread, on 127.0.0.1 only.

Each round starts every server on a free port and checks its answer; then, for each
connection count, each server in turn gets a short unmeasured warm-up and one measured
wrk run (so the servers compared run seconds apart, and a noisy spell of a shared
machine hits them alike), and the server's CPU time per request is read from /proc.
At the end of the round each server's RSS (the whole process tree) is read and it is
stopped; rounds alternate the order of the servers, and the table shows medians over
rounds with the spread of req/s.

    python benchmarks/serving.py                    # measure, print, write results
    python benchmarks/serving.py --rounds 1 --duration 5 --no-write   # a quick look
    python benchmarks/serving.py --only floor mlgate-canary            # some servers

The generated data, the mlgate projects and the MLflow store live under
benchmarks/data/serving/ (git-ignored), rebuilt on every run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _measure import tree_cpu_s, tree_rss_mb

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "serving"
RESULTS = HERE / "results" / "serving.json"
PYTHON = sys.executable
BIN = Path(PYTHON).parent

SEED = 20261126
FEATURES = [f"x{i:02d}" for i in range(20)]
TRAIN_ROWS, TEST_ROWS = 4000, 1000
TREES = 100
#: Bounded depth, as the quickstart's: fully grown trees vote 50/50 on some rows, and
#: ONNX Runtime's float32 sum then breaks the tie the other way than scikit-learn.
DEPTH = 10
MODEL = "rf-serving"
CONNECTIONS = (1, 16)
MLFLOW_OPTIONS = ["-h", "127.0.0.1", "-p", "{port}", "-w", "1", "--env-manager", "local"]
#: The floor app reads its ONNX file from here (worker processes import this module).
FLOOR_ONNX = "MLGATE_BENCH_FLOOR_ONNX"

CONFIG = f"""\
name: {MODEL}
seed: 7
data:
  train: ../train.parquet
  test: ../test.parquet
  target: y
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {{n_estimators: {TREES}, max_depth: {DEPTH}}}
  cv_folds: 0
"""


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """Everything the servers need: configs, files, and the request with its answer."""

    champion_config: Path
    canary_config: Path
    onnx: Path
    onnx_sha256: str
    mlflow_uri: str
    mlflow_store: str
    body: bytes
    expected: list[Any]
    versions: dict[str, str]


def generate(rows: int, seed: int) -> Any:
    """A binary classification frame: 20 standard-normal features, a noisy linear rule."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = np.random.default_rng(SEED).normal(size=len(FEATURES))
    # Three decimals, as measured data has: with full float64 precision, a few rows sit
    # so close to a split threshold that ONNX Runtime's float32 flips them, and the
    # road rightly refuses the export.
    features = rng.normal(size=(rows, len(FEATURES))).round(3)
    label = (features @ weights + rng.logistic(0, 1.0, rows) > 0).astype("int64")
    frame = pd.DataFrame(features, columns=FEATURES)
    frame["y"] = label
    return frame


def _road(config_path: Path) -> Any:
    """One trip down mlgate's road with registration; the run's result."""
    from mlgate.config.loader import load_config
    from mlgate.road.run import run

    result = run(load_config(config_path), register=True)
    if not result.passed or result.registration is None:
        raise SystemExit(f"the road did not register {config_path}: {result.reasons}")
    return result


def _graph(path: Path) -> bytes:
    """The ONNX model without its graph name (skl2onnx names every export afresh)."""
    import onnx

    model = onnx.load(path)
    model.graph.name = ""
    return bytes(model.SerializeToString())


def prepare() -> Prepared:
    """Train, register (twice for the canary), log to MLflow; build the request."""
    import mlflow
    import numpy as np

    from mlgate.config.loader import load_config
    from mlgate.project import Project
    from mlgate.registry.bundle import load_bundle
    from mlgate.registry.catalog import CHALLENGER
    from mlgate.state.rollout import set_rollout

    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    generate(TRAIN_ROWS, SEED + 1).to_parquet(DATA / "train.parquet", index=False)
    test = generate(TEST_ROWS, SEED + 2)
    test.to_parquet(DATA / "test.parquet", index=False)

    configs = {}
    for project in ("champion", "canary"):
        folder = DATA / project
        folder.mkdir()
        (folder / "mlgate.yaml").write_text(CONFIG, encoding="utf-8")
        configs[project] = folder / "mlgate.yaml"

    print("training through mlgate's road ...", file=sys.stderr)
    first = _road(configs["champion"])
    canary_first = _road(configs["canary"])
    canary_second = _road(configs["canary"])  # the same model again: the challenger
    onnx = Path(first.files["onnx"])
    fitted, card = load_bundle(first.output_dir)
    if card.onnx is None:
        raise SystemExit(f"the road did not export ONNX: {card.onnx_note}")
    for other in (canary_first, canary_second):
        if _graph(Path(other.files["onnx"])) != _graph(onnx):
            raise SystemExit("the road trained different models from the same config and data")

    with Project.open(load_config(configs["canary"])) as canary:
        version = canary_second.registration.version
        if canary_second.registration.alias != CHALLENGER:
            canary.catalog.move_alias(
                MODEL, CHALLENGER, version, action="register", reason="benchmark"
            )
        set_rollout(canary.state, MODEL, strategy="canary", weight=10.0, actor="benchmark")

    print("logging the same model with mlflow.sklearn.log_model ...", file=sys.stderr)
    versions = package_versions()
    store = f"sqlite:///{DATA / 'mlflow' / 'mlflow.db'}"
    (DATA / "mlflow").mkdir()
    mlflow.set_tracking_uri(store)
    experiment = mlflow.create_experiment(
        "serving-benchmark", artifact_location=(DATA / "mlflow" / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment):
        import skops.io

        info = mlflow.sklearn.log_model(
            fitted,
            name="model",
            serialization_format="skops",
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(fitted)),
            pip_requirements=[
                f"scikit-learn=={versions['scikit-learn']}",
                f"skops=={versions['skops']}",
                f"mlflow=={versions['mlflow']}",
            ],
        )

    row = test[FEATURES].iloc[[0]]
    body = {"dataframe_split": {"columns": FEATURES, "data": row.to_numpy().tolist()}}
    expected = np.asarray(fitted.predict(row)).tolist()
    return Prepared(
        champion_config=configs["champion"],
        canary_config=configs["canary"],
        onnx=onnx,
        onnx_sha256=card.onnx.sha256,
        mlflow_uri=info.model_uri,
        mlflow_store=store,
        body=json.dumps(body).encode(),
        expected=expected,
        versions=versions,
    )


def package_versions() -> dict[str, str]:
    """The versions of what was measured."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    names = ["mlgate", "mlflow", "scikit-learn", "skops", "skl2onnx", "onnxruntime"]
    names += ["fastapi", "starlette", "uvicorn", "uvloop", "httptools", "orjson"]
    names += ["prometheus-client"]
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        line = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        found["wrk"] = line.split()[1] if line.split()[1:] else line.strip()
    return found


# --- the floor: FastAPI + ONNX Runtime and nothing else --------------------------------------


def floor_app() -> Any:
    """The floor: one async route, orjson, ONNX Runtime on one thread, no checks at all."""
    import numpy as np
    import onnxruntime as ort
    import orjson
    from fastapi import FastAPI, Request  # noqa: TID251 (a benchmark's own server)
    from fastapi.responses import Response  # noqa: TID251

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        os.environ[FLOOR_ONNX], options, providers=["CPUExecutionProvider"]
    )
    inputs = [i.name for i in session.get_inputs()]
    app = FastAPI()

    async def ping() -> Response:
        return Response(b"{}", media_type="application/json")

    async def invocations(request: Request) -> Response:
        split = orjson.loads(await request.body())["dataframe_split"]
        rows = np.asarray(split["data"], dtype=np.float32)
        where = {name: j for j, name in enumerate(split["columns"])}
        feed = {name: rows[:, where[name]].reshape(-1, 1) for name in inputs}
        labels = session.run(None, feed)[0].reshape(-1).tolist()
        return Response(orjson.dumps({"predictions": labels}), media_type="application/json")

    # FastAPI reads annotations from the module's globals, where these names are not:
    # hand it the classes themselves.
    ping.__annotations__ = {"return": Response}
    invocations.__annotations__ = {"request": Request, "return": Response}
    app.get("/ping")(ping)
    app.post("/invocations")(invocations)
    return app


def serve_floor(onnx: Path, port: int, workers: int) -> None:
    """Run the floor the way mlgate runs: its own TCP_NODELAY socket, access log off."""
    import uvicorn

    os.environ[FLOOR_ONNX] = str(onnx)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn's own multi-worker socket leaves Nagle on (Kludex/uvicorn#3149).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    options: dict[str, Any] = {
        "access_log": False,
        "log_level": "warning",
        "server_header": False,
    }
    if workers == 1:
        uvicorn.Server(uvicorn.Config(floor_app(), **options)).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    sys.path.insert(0, str(HERE))
    config = uvicorn.Config("serving:floor_app", factory=True, workers=workers, **options)
    Multiprocess(config, sockets=[sock]).run()


# --- servers -------------------------------------------------------------------------------


@dataclass
class Point:
    """One measured wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    #: The server's CPU time (every process and thread) per answered request.
    cpu_us: float = 0.0
    #: The share of the machine's CPU time its hypervisor gave to others meanwhile
    #: ("steal"): a noisy neighbour, which slows whichever server runs then.
    steal: float = 0.0


@dataclass
class Server:
    """A server configuration to start, load and stop once per round."""

    name: str
    workers: int
    command: list[str]
    env: dict[str, str]
    ready_path: str = "/ping"
    points: dict[int, list[Point]] = field(default_factory=dict)
    rss_mb: list[float] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    logs: Path | None = None
    #: Another mlgate source tree this configuration runs (`--compare`), or None.
    tree: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.name} ({self.workers}w)"


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without settings that would point the servers elsewhere."""
    skip = ("PROMETHEUS_MULTIPROC_DIR", "PYTHONDONTWRITEBYTECODE")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLGATE_", "MLFLOW_")) and k not in skip
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # MLflow runs `uvicorn` by name
    return env


def servers(
    prepared: Prepared, only: list[str] | None, compare: Path | None, label: str
) -> list[Server]:
    """Every configuration, MLflow first; `only` keeps those whose name starts so.

    With `compare`, mlgate's configurations run a second time from that source tree
    (PYTHONPATH), named with `label`: before and after a change, side by side.
    """
    env = clean_env()
    mlgate = str(BIN / "mlgate")
    found = [
        Server(
            "mlflow models serve",
            1,
            [str(BIN / "mlflow"), "models", "serve", "-m", prepared.mlflow_uri, *MLFLOW_OPTIONS],
            env | {"MLFLOW_TRACKING_URI": prepared.mlflow_store},
        ),
    ]
    for workers in (1, 2):
        port_workers = ["--port", "{port}", "--workers", str(workers)]
        found.append(
            Server(
                "floor: FastAPI + ONNX Runtime",
                workers,
                [
                    PYTHON,
                    str(Path(__file__).resolve()),
                    "--floor",
                    str(prepared.onnx),
                    *port_workers,
                ],
                dict(env),
            )
        )
    trees: list[Path | None] = [None] if compare is None else [compare.resolve(), None]
    for tree in trees:
        for name, config in (
            ("mlgate serve, champion only", prepared.champion_config),
            ("mlgate serve, canary 10%", prepared.canary_config),
        ):
            for workers in (1, 2):
                port_workers = ["--host", "127.0.0.1", "--port", "{port}"]
                port_workers += ["--workers", str(workers), "--log-level", "warning"]
                found.append(
                    Server(
                        name if tree is None else f"{name} [{label}]",
                        workers,
                        [mlgate, "serve", "-c", str(config), *port_workers],
                        dict(env) if tree is None else env | {"PYTHONPATH": str(tree)},
                        tree=tree,
                    )
                )
    if only:
        short = {"mlflow": "mlflow", "floor": "floor", "mlgate-champion": "mlgate serve, champion"}
        short["mlgate-canary"] = "mlgate serve, canary"
        wanted = [short.get(o, o) for o in only]
        found = [s for s in found if any(s.name.startswith(w) for w in wanted)]
    return found


@contextlib.contextmanager
def running(server: Server, port: int, scratch: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The server started in its own session, and stopped (its whole group) on the way out."""
    command = [part.replace("{port}", str(port)) for part in server.command]
    env = dict(server.env)
    if server.name.startswith("mlgate"):
        server.logs = scratch / "logs"
        env["MLGATE_LOG_PATH"] = str(server.logs)
        metrics = scratch / "metrics"
        metrics.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)  # only read with several workers
        if server.workers == 1:
            env.pop("PROMETHEUS_MULTIPROC_DIR")
    output = (scratch / "server.log").open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        stop(process)
        output.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (graceful: logs flush), SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Workers may outlive the supervisor by a moment; wait for the whole group.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.1)
    if _group_alive(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def request(port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One HTTP request to the server under test."""
    url = f"http://127.0.0.1:{port}{path}"
    headers = {"Content-Type": "application/json"} if body is not None else {}
    call = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as e:
        return int(e.code), bytes(e.read())


def answered(body: bytes) -> list[Any] | None:
    """The labels (or a regressor's values) of an /invocations answer, whichever form it
    takes: mlgate's one object per row ({"label": ..., "probabilities": [...]} or
    {"prediction": ...}), or MLflow's plain list for a scikit-learn model."""
    predictions = json.loads(body).get("predictions")
    if not isinstance(predictions, list):
        return None
    return [
        row.get("label", row.get("prediction")) if isinstance(row, dict) else row
        for row in predictions
    ]


def wait_ready(process: subprocess.Popen[bytes], port: int, path: str, scratch: Path) -> None:
    """Block until the server answers `path`; fail with its log if it dies or stalls."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (scratch / "server.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"the server exited with {process.returncode}:\n{log}")
        with contextlib.suppress(OSError):
            if request(port, path)[0] == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer {path} within 180 s")


def cpu_times() -> tuple[int, int]:
    """The machine's (steal, total) CPU ticks so far, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return fields[7], sum(fields)


# --- load ----------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk(port: int, connections: int, seconds: float, script: Path) -> Point:
    """One wrk run, one thread; requests/s and the latency distribution's p50 and p99."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["--latency", "-s", str(script), f"http://127.0.0.1:{port}/invocations"]
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    done = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and done):
        raise SystemExit(f"could not read wrk's output:\n{out}")
    errors = 0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        errors += int(bad[1])
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sockets:
        errors += sum(int(sockets[i]) for i in range(1, 5))
    return Point(float(rps[1]), _duration_ms(p50[1]), _duration_ms(p99[1]), int(done[1]), errors)


def lua(body: bytes, folder: Path) -> Path:
    """The wrk script that POSTs `body` as JSON."""
    text = body.decode()
    if "]==]" in text:
        raise ValueError("the body cannot sit in a Lua long string")
    path = folder / "post.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{text}]==]\n",
        encoding="utf-8",
    )
    return path


def _counts(metrics: str) -> dict[str, float]:
    """Requests answered, by role, from the gateway's Prometheus text."""
    found: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("mlgate_requests_total{"):
            role = re.search(r'role="([^"]+)"', line)
            if role:
                found[role[1]] = found.get(role[1], 0.0) + float(line.rsplit(" ", 1)[1])
    return found


def _logged(logs: Path) -> dict[str, int]:
    """Prediction-log rows by role, after the server flushed them on shutdown."""
    from mlgate.state.predlog import read_log

    frame = read_log(str(logs), "predictions", "SELECT role, count(*) AS n FROM log GROUP BY 1")
    return {str(r): int(n) for r, n in zip(frame.get("role", []), frame.get("n", []), strict=True)}


@contextlib.contextmanager
def started(server: Server, prepared: Prepared) -> Iterator[tuple[int, int]]:
    """The server running on a free port with its answer checked: (port, pid).

    On the way out it is stopped (graceful: logs flush) and its log checked.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-", dir=DATA) as folder:
        scratch = Path(folder)
        counted: dict[str, float] = {}
        with running(server, port, scratch) as process:
            wait_ready(process, port, server.ready_path, scratch)
            status, answer = request(port, "/invocations", prepared.body)
            predictions = answered(answer) if status == 200 else None
            if predictions != prepared.expected:
                raise SystemExit(
                    f"{server.key} answered {status} {answer[:300]!r}; "
                    f"expected predictions {prepared.expected}"
                )
            yield port, process.pid
            server.rss_mb.append(tree_rss_mb(process.pid))
            if server.logs is not None:
                time.sleep(1.0)  # requests wrk left in flight are answered (and counted)
                counted = _counts(request(port, "/metrics")[1].decode())
        if server.logs is not None:
            server.checks.append(check_logs(counted, _logged(server.logs)))


def measure_round(
    order: list[Server], prepared: Prepared, script: Path, *, seconds: float, warmup: float
) -> None:
    """One round: start every server, then load each in turn at each connection count.

    Every server is up for the whole round, so the servers compared are measured
    seconds apart, not minutes: a noisy spell of the machine hits them alike. An
    idle server costs the one under load next to nothing (it waits in epoll).
    """
    with contextlib.ExitStack() as stack:
        live = [(server, *stack.enter_context(started(server, prepared))) for server in order]
        for connections in CONNECTIONS:
            for server, port, pid in live:
                wrk(port, connections, warmup, script)
                cpu, (steal, total) = tree_cpu_s(pid), cpu_times()
                point = wrk(port, connections, seconds, script)
                point.cpu_us = (tree_cpu_s(pid) - cpu) / max(point.requests, 1) * 1e6
                steal_after, total_after = cpu_times()
                point.steal = (steal_after - steal) / max(total_after - total, 1)
                server.points.setdefault(connections, []).append(point)
                print(
                    f"  {server.key:44} c={connections:<3} {point.rps:9.0f} req/s "
                    f"p50 {point.p50_ms:7.2f} ms  p99 {point.p99_ms:7.2f} ms  "
                    f"CPU {point.cpu_us:4.0f} µs/req  steal {point.steal:4.0%}"
                    + (f"  ERRORS {point.errors}" if point.errors else ""),
                    file=sys.stderr,
                )


def check_logs(counted: dict[str, float], logged: dict[str, int]) -> dict[str, Any]:
    """Whether every answer counted in the metrics is in the prediction log, and the split.

    The log has one row per answer (champion or challenger), plus the champion's
    reference answer to each request the challenger answered.
    """
    answered = int(sum(counted.values()))
    challenger = int(counted.get("challenger", 0.0))
    served = logged.get("champion", 0) + logged.get("challenger", 0)
    return {
        "answers_counted": answered,
        "challenger_share": round(challenger / answered, 4) if answered else None,
        "log_rows_by_role": logged,
        "log_matches_metrics": served == answered
        and logged.get("challenger", 0) == challenger
        and logged.get("reference", 0) == challenger,
    }


# --- in process: each app's own cost per request --------------------------------------------

IN_PROCESS_BURSTS, IN_PROCESS_SIZE = 15, 400


def asgi_costs(config: Path, onnx: Path, body: bytes) -> dict[str, list[float]]:
    """Microseconds per request of the floor's app and mlgate's, called here, no network.

    The same request goes straight to each ASGI app: no HTTP parsing, no socket,
    no load generator sharing the CPU. Bursts alternate between the two apps, so a
    noisy moment hits both alike; mlgate's app runs inside its lifespan (the log's
    spool, state watcher, rollout controller), as under `mlgate serve`, where the
    log's converter is a process of its own (not started here).
    """
    import asyncio
    import gc

    from mlgate.serving.app import create_app
    from mlgate.serving.server import build_gateway

    os.environ[FLOOR_ONNX] = str(onnx)
    floor = floor_app()
    try:  # as under `mlgate serve`: the log's converter is another process
        gateway = build_gateway(config, convert=False)
    except TypeError:  # a tree (--compare) from before the spool: its writer is a thread
        gateway = build_gateway(config)
    app = create_app(gateway)
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def burst(target: Any) -> float:
        started = time.perf_counter()
        for _ in range(IN_PROCESS_SIZE):
            await target(dict(scope), receive, send)
        return (time.perf_counter() - started) / IN_PROCESS_SIZE * 1e6

    async def run() -> dict[str, list[float]]:
        costs: dict[str, list[float]] = {"floor": [], "mlgate": []}
        async with app.router.lifespan_context(app):
            await burst(floor)
            await burst(app)
            gc.collect()
            gc.freeze()  # as `mlgate serve` does before serving; both apps alike here
            for _ in range(IN_PROCESS_BURSTS):
                costs["floor"].append(await burst(floor))
                costs["mlgate"].append(await burst(app))
        return costs

    costs = asyncio.run(run())
    if statuses != {200}:
        raise SystemExit(f"in process, the apps answered with statuses {sorted(statuses)}")
    return costs


def in_process(prepared: Prepared, compare: Path | None, label: str) -> list[dict[str, Any]]:
    """Each mlgate configuration against the floor, in a fresh process of its own."""
    found = []
    request = DATA / "request.json"
    request.write_bytes(prepared.body)
    trees: list[Path | None] = [None] if compare is None else [compare.resolve(), None]
    for tree in trees:
        for name, config in (
            ("champion only", prepared.champion_config),
            ("canary 10%", prepared.canary_config),
        ):
            env = clean_env() | ({} if tree is None else {"PYTHONPATH": str(tree)})
            command = [PYTHON, str(Path(__file__).resolve()), "--asgi", str(config)]
            command += ["--onnx", str(prepared.onnx), "--request", str(request)]
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=900, check=False
            )
            if done.returncode != 0:
                raise SystemExit(f"in-process measurement failed:\n{done.stderr[-3000:]}")
            costs = json.loads(done.stdout.splitlines()[-1])
            floor, mlgate = min(costs["floor"]), min(costs["mlgate"])
            found.append(
                {
                    "mlgate": name if tree is None else f"{name} [{label}]",
                    "floor_us": round(floor, 1),
                    "mlgate_us": round(mlgate, 1),
                    "floor_us_median": round(statistics.median(costs["floor"]), 1),
                    "mlgate_us_median": round(statistics.median(costs["mlgate"]), 1),
                    "mlgate_vs_floor": round(floor / mlgate, 3),
                }
            )
            print(f"  in process: {found[-1]}", file=sys.stderr)
    return found


def in_process_table(rows: list[dict[str, Any]]) -> str:
    """The in-process figures as a Markdown table."""
    lines = [
        "| mlgate app | floor µs/request | mlgate µs/request | mlgate as a share of the floor's "
        "throughput |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['mlgate']} | {row['floor_us']:.0f} | {row['mlgate_us']:.0f} "
            f"| {row['mlgate_vs_floor']:.0%} |"
        )
    return "\n".join(lines)


# --- report --------------------------------------------------------------------------------


def summary(server: Server, connections: int) -> dict[str, Any]:
    """Medians over rounds, and the spread of requests/s."""
    points = server.points.get(connections, [])
    rps = [p.rps for p in points]
    return {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(p.p50_ms for p in points),
        "p99_ms": statistics.median(p.p99_ms for p in points),
        "cpu_us": statistics.median(p.cpu_us for p in points),
        "steal": statistics.median(p.steal for p in points),
        "errors": sum(p.errors for p in points),
        "runs": [vars(p) for p in points],
    }


def table(measured: list[Server]) -> str:
    """The Markdown table: one line per server, workers and connection count."""
    lines = [
        "| server | workers | connections | req/s (median) | req/s (min–max) | p50 ms | p99 ms "
        "| server CPU µs/request | RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for server in measured:
        rss = statistics.median(server.rss_mb) if server.rss_mb else float("nan")
        for connections in CONNECTIONS:
            if connections not in server.points:
                continue
            s = summary(server, connections)
            lines.append(
                f"| {server.name} | {server.workers} | {connections} | {s['rps']:,.0f} "
                f"| {s['rps_min']:,.0f}–{s['rps_max']:,.0f} | {s['p50_ms']:.2f} "
                f"| {s['p99_ms']:.2f} | {s['cpu_us']:.0f} | {rss:.0f} |"
            )
    return "\n".join(lines)


def _round(measured: list[Server], prefix: str, connections: int, round_: int) -> list[Point]:
    """This round's points of this tree's configurations named `prefix...`."""
    return [
        s.points[connections][round_]
        for s in measured
        if s.name.startswith(prefix)
        and s.tree is None
        and len(s.points.get(connections, [])) > round_
    ]


def _best(measured: list[Server], prefix: str, connections: int, round_: int) -> float | None:
    """The best req/s of those configurations in one round."""
    rates = [p.rps for p in _round(measured, prefix, connections, round_)]
    return max(rates) if rates else None


def _least_cpu(measured: list[Server], prefix: str, connections: int, round_: int) -> float | None:
    """The least CPU µs per request of those configurations in one round."""
    costs = [p.cpu_us for p in _round(measured, prefix, connections, round_)]
    return min(costs) if costs else None


def targets(measured: list[Server], rounds: int) -> dict[str, Any]:
    """The issue's targets at each connection count, as ratios of the best configurations.

    Each ratio is taken within a round (the servers ran seconds apart, not hours),
    then the median over rounds is reported with its range: the spread is the noise.
    `canary_cpu_vs_best_floor` compares CPU time per request instead (the floor's
    least over mlgate's least): less moved by a neighbour taking the CPU away, which
    lowers requests/s without costing the server any CPU time.
    """
    pairs = {
        "canary_vs_best_floor": ("mlgate serve, canary", "floor"),
        "champion_vs_best_floor": ("mlgate serve, champion", "floor"),
        "canary_vs_mlflow": ("mlgate serve, canary", "mlflow"),
    }
    found: dict[str, Any] = {}
    for connections in CONNECTIONS:
        found[str(connections)] = {}
        for label, (top, bottom) in pairs.items():
            ratios = []
            for round_ in range(rounds):
                over = _best(measured, top, connections, round_)
                under = _best(measured, bottom, connections, round_)
                if over and under:
                    ratios.append(over / under)
            if ratios:
                found[str(connections)][label] = _spread(ratios)
        ratios = []
        for round_ in range(rounds):
            floor = _least_cpu(measured, "floor", connections, round_)
            mlgate = _least_cpu(measured, "mlgate serve, canary", connections, round_)
            if floor and mlgate:
                ratios.append(floor / mlgate)
        if ratios:
            found[str(connections)]["canary_cpu_vs_best_floor"] = _spread(ratios)
    return found


def _spread(ratios: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(ratios), 3),
        "min": round(min(ratios), 3),
        "max": round(max(ratios), 3),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, then measure (or run the floor server when asked to)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="Rounds over every server.")
    parser.add_argument("--duration", type=float, default=12.0, help="Seconds per point.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Unmeasured seconds first.")
    parser.add_argument("--only", nargs="+", help="mlflow, floor, mlgate-champion, mlgate-canary")
    parser.add_argument(
        "--compare", type=Path, help="Another mlgate source tree (the folder holding mlgate/)."
    )
    parser.add_argument("--compare-label", default="compare", help="How to name that tree.")
    parser.add_argument("--no-in-process", action="store_true", help="Skip the in-process part.")
    parser.add_argument("--no-write", action="store_true", help=f"Do not write {RESULTS.name}.")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--asgi", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--request", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor is not None:
        serve_floor(args.floor, args.port, args.workers)
        return
    if args.asgi is not None:
        print(json.dumps(asgi_costs(args.asgi, args.onnx, args.request.read_bytes())))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    # A SIGTERM to this script unwinds through `running`, which stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    prepared = prepare()
    measured = servers(prepared, args.only, args.compare, args.compare_label)
    script = lua(prepared.body, DATA)
    load = [os.getloadavg()[0]]
    stolen = cpu_times()
    started = time.monotonic()
    for round_ in range(args.rounds):
        print(f"round {round_ + 1} of {args.rounds}", file=sys.stderr)
        order = measured if round_ % 2 == 0 else measured[::-1]
        measure_round(order, prepared, script, seconds=args.duration, warmup=args.warmup)
    costs = [] if args.no_in_process else in_process(prepared, args.compare, args.compare_label)
    load.append(os.getloadavg()[0])
    steal = (cpu_times()[0] - stolen[0]) / max(cpu_times()[1] - stolen[1], 1)

    print()
    print(
        f"RandomForest, {TREES} trees, {len(FEATURES)} features, one row per request to "
        f"/invocations; wrk -t1, {args.duration:g} s a point, median of {args.rounds} round(s):"
    )
    print(table(measured))
    found = targets(measured, args.rounds)
    for connections, ratios in found.items():
        shown = "; ".join(
            f"{k} {v['median']:.2f} ({v['min']:.2f}–{v['max']:.2f})" for k, v in ratios.items()
        )
        print(f"{connections} connection(s), per-round ratios, median (range): {shown}")
    if costs:
        print()
        print(
            f"In process (no network; min of {IN_PROCESS_BURSTS} alternating bursts of "
            f"{IN_PROCESS_SIZE} requests):"
        )
        print(in_process_table(costs))
    checks = [(s.key, c) for s in measured for c in s.checks]
    for key, check in checks:
        print(f"{key}: {check}")
    print(
        f"(load average {load[0]:.1f} before, {load[1]:.1f} after, on {os.cpu_count()} CPUs; "
        f"CPU time taken by the hypervisor (steal) {steal:.1%}; {time.monotonic() - started:.0f} s)"
    )
    if args.no_write:
        return
    results = {
        "model": {
            "estimator": "RandomForestClassifier",
            "trees": TREES,
            "features": len(FEATURES),
            "train_rows": TRAIN_ROWS,
            "onnx_bytes": prepared.onnx.stat().st_size,
            "onnx_sha256": prepared.onnx_sha256,
        },
        "request": {"route": "/invocations", "rows": 1, "body_bytes": len(prepared.body)},
        "load_generator": f"wrk -t1 --latency, {args.warmup:g} s warm-up, "
        f"{args.duration:g} s measured",
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(x, 2) for x in load],
        "steal_share": round(steal, 4),
        "versions": prepared.versions,
        "servers": [
            {
                "server": s.name,
                "workers": s.workers,
                "rss_mb": round(statistics.median(s.rss_mb), 1) if s.rss_mb else None,
                "connections": {str(c): summary(s, c) for c in CONNECTIONS if c in s.points},
                "checks": s.checks,
            }
            for s in measured
        ],
        "targets": found,
        "in_process": costs,
        "compare": None
        if args.compare is None
        else {"label": args.compare_label, "tree": str(args.compare)},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
