"""A fleet on separate hosts: PostgreSQL, an MLflow tracking server, three gateway
replicas, nginx and a client, each in a network namespace of its own.

    front network:  client ── nginx ── r1, r2, r3
    back network:   r1, r2, r3 ── postgres (state store), mlflow (registry)

The client sends keyed load through nginx for the whole module while the scenarios
run one after another on the same fleet: a state store out of one replica's reach, a
canary rollout with its controller's lease holder SIGKILLed, a rolling restart, a
registry outage; the last test reads the prediction log. Each scenario prints its
figures (requests, failures, failover time) and they are written to
`fleet-results.json` in the fleet's folder (and to MLGATE_FLEET_RESULTS if set).
Skipped, saying why, when not root or without `ip netns`, PostgreSQL or nginx.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from state.conftest import PASSWORD, USER, _binaries

from .hosts import Host, Network, missing

pytestmark = pytest.mark.fleet

NAME = "credit-risk"
TOKEN = "fleet-admin-token"
PORT = 8000
LEASE = 3.0  # rollout.lease: a killed holder's lease is free after this
HERE = Path(__file__).parent
ROLLOUT = {
    "strategy": "canary",
    "steps": [5, 10, 20, 40, 70, 100],
    "interval": "1s",
    "lease": f"{LEASE:g}s",
    # The fleet's mechanics are under test, not the models: two cores shared with
    # the whole fleet make latency too noisy to judge on.
    "analysis": {"min_requests": 3, "max_p99_latency_ratio": 50.0, "min_agreement": 0.5},
    "failure_limit": 5,
}


#: Registers the champion, then the challenger, of the config given as argument.
TRAIN = """
import sys
from mlgate.config.loader import load_config
from mlgate.road.run import run
config = load_config(sys.argv[1])
for alias in ("champion", "challenger"):
    assert run(config, register=True).registration.alias == alias
"""


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (httpx.TransportError, OSError):
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.1)


@dataclass
class Replica:
    host: Host
    spool: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host.addresses['front']}:{PORT}"

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/v2/health/ready", timeout=3)
        return dict(response.json())


@dataclass
class Fleet:
    network: Network
    folder: Path
    config: Path
    state_url: str
    registry: str
    replicas: list[Replica]
    lb: str
    load: Path
    env: dict[str, str]
    start_registry: Callable[[], subprocess.Popen[bytes]]
    registry_process: subprocess.Popen[bytes]
    results: dict[str, Any] = field(default_factory=dict)

    def start(self, replica: Replica) -> None:
        """Start `mlgate serve` on the replica's host (not waiting for it)."""
        env = self.env | {"MLGATE_SPOOL_PATH": str(replica.spool)}
        command = [sys.executable, "-m", "mlgate", "serve", "-c", str(self.config)]
        command += ["--host", "0.0.0.0", "--port", str(PORT), "--log-level", "warning"]
        replica.process = replica.host.start(
            command, log=self.folder / f"{replica.host.name}.log", env=env
        )

    def ready(self, replica: Replica, timeout: float = 90.0) -> None:
        def up() -> bool:
            assert replica.process is not None
            log = self.folder / f"{replica.host.name}.log"
            assert replica.process.poll() is None, log.read_text(errors="replace")
            return httpx.get(f"{replica.url}/v2/health/ready", timeout=2).status_code == 200

        wait_for(up, f"replica {replica.host.name} ready", timeout)

    def admin(self, method: str, path: str, *, via: str | None = None, **kw: Any) -> Any:
        return httpx.request(
            method,
            f"{via or self.lb}{path}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
            **kw,
        )

    def requests_between(self, start: float, end: float) -> list[dict[str, Any]]:
        lines = self.load.read_text(encoding="utf-8").splitlines()
        found = [json.loads(line) for line in lines if line.strip()]
        return [r for r in found if start <= r["at"] < end]

    def record(self, scenario: str, start: float, end: float, **figures: Any) -> None:
        """The client's requests and failures in the scenario's window, with `figures`."""
        seen = self.requests_between(start, end)
        failed = [r for r in seen if r["status"] != 200]
        entry = {
            "seconds": round(end - start, 2),
            "requests": len(seen),
            "failed": len(failed),
            **figures,
        }
        self.results[scenario] = entry
        print(f"fleet {scenario}: {json.dumps(entry)}")
        assert seen, f"{scenario}: the client sent no request"
        assert not failed, f"{scenario}: the client saw failures: {failed[:5]}"

    def rollout(self) -> Any:
        from mlgate.state.rollout import get_rollout
        from mlgate.state.store import StateStore

        store = StateStore(self.state_url)
        try:
            return get_rollout(store, NAME)
        finally:
            store.close()

    def lease_holder(self) -> str | None:
        import psycopg

        url = self.state_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=5) as connection:
            row = connection.execute(
                "SELECT holder, expires_at FROM mlgate_leases WHERE name = %s",
                (f"rollout:{NAME}",),
            ).fetchone()
        return None if row is None or row[1] < time.time() else str(row[0])


def keyed_versions(url: str, rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    with httpx.Client(base_url=url, timeout=10) as client:
        found = []
        for i, key in enumerate(keys):
            response = client.post(
                "/predict",
                json={"instances": [rows[i % len(rows)]]},
                headers={"x-mlgate-key": key},
            )
            assert response.status_code == 200, response.text
            found.append(response.json()["version"])
        return found


def nginx_conf(folder: Path, listen: str, upstreams: list[str]) -> Path:
    servers = "\n".join(f"    server {u}:{PORT} max_fails=1 fail_timeout=3s;" for u in upstreams)
    temp = "\n".join(
        f"  {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = f"""daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "nginx-error.log"} warn;
worker_processes 1;
events {{ worker_connections 512; }}
http {{
  access_log off;
{temp}
  upstream mlgate {{
{servers}
    keepalive 16;
  }}
  server {{
    listen {listen}:8080;
    location / {{
      proxy_pass http://mlgate;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # A replica that is killed, restarting or draining: the request goes to the next.
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 1s;
      proxy_read_timeout 15s;
    }}
  }}
}}
"""
    path = folder / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def start_postgres(host: Host, folder: Path, network: Network) -> str:
    """PostgreSQL on `host`, listening on its back address; the state store's URL."""
    import pwd

    binaries = _binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb) not found: install postgresql")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("there is no `postgres` user to run PostgreSQL as")
    home = folder / "pg"
    home.mkdir()
    pwfile = home / "pwfile"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    for path in (folder, home, pwfile):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    data = home / "data"
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}"]
    initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *initdb], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    with (data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
        hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
    address = host.addresses["back"]
    options = [
        f"listen_addresses={address}",
        "port=5432",
        "unix_socket_directories=",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
    ]
    command = [str(binaries / "postgres"), "-D", str(data)]
    for option in options:
        command += ["-c", option]
    host.start(command, log=folder / "postgres.log", env=dict(os.environ), user="postgres")
    import psycopg

    def connect() -> Any:
        return psycopg.connect(
            host=address,
            port=5432,
            user=USER,
            password=PASSWORD,
            dbname="postgres",
            autocommit=True,
            connect_timeout=2,
        )

    def up() -> bool:
        try:
            connect().close()
        except psycopg.OperationalError:
            return False
        return True

    wait_for(up, "PostgreSQL accepting connections", 30)
    with connect() as connection:
        for database in ("state", "mlflow"):
            connection.execute(f"CREATE DATABASE {database}")
    return f"postgresql+psycopg://{USER}:{PASSWORD}@{address}:5432"


def write_project(folder: Path) -> Path:
    from mlgate.scaffold.example import write_example

    config = write_example(folder / "project", rows=400)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["model"]["params"] = {"n_estimators": 8, "max_depth": 6}
    doc["model"]["cv_folds"] = 0
    doc["rollout"] = ROLLOUT
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


def sample_rows(config: Path) -> list[dict[str, Any]]:
    import math

    import pandas as pd

    frame = pd.read_csv(config.parent / "data" / "test.csv").drop(columns=["default"])
    rows = frame.head(20).to_dict("records")
    return [
        {
            k: None
            if isinstance(v, float) and math.isnan(v)
            else getattr(v, "item", lambda v=v: v)()
            for k, v in row.items()
        }
        for row in rows
    ]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    why = missing()
    if why:
        pytest.skip(why)
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx; `make fleet`)")
    import tempfile

    # Not under pytest's temporary folder: PostgreSQL's user must reach it (pytest's is 0700).
    folder = Path(tempfile.mkdtemp(prefix="mlgate-fleet-"))
    folder.chmod(0o755)
    network = Network()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        network.bridge("front")
        network.bridge("back")
        pg = network.host("postgres", {"back": 10})
        registry_host = network.host("mlflow", {"back": 20})
        replicas = [
            Replica(
                network.host(f"r{i}", {"front": 10 + i, "back": 10 + i}), folder / f"spool-r{i}"
            )
            for i in (1, 2, 3)
        ]
        balancer = network.host("nginx", {"front": 2})
        client = network.host("client", {"front": 100})
        base = start_postgres(pg, folder, network)
        state_url = f"{base}/state"
        registry = f"http://{registry_host.addresses['back']}:5000"
        mlflow = Path(sys.executable).parent / "mlflow"
        artifacts = folder / "artifacts"

        def start_registry() -> subprocess.Popen[bytes]:
            command = [str(mlflow), "server", "--backend-store-uri", f"{base}/mlflow"]
            command += ["--serve-artifacts", "--artifacts-destination", str(artifacts)]
            command += ["--host", "0.0.0.0", "--port", "5000", "--workers", "1"]
            command += ["--allowed-hosts", f"{registry_host.addresses['back']}:5000"]
            started = registry_host.start(command, log=folder / "mlflow.log", env=dict(os.environ))
            processes.append(started)
            wait_for(
                lambda: httpx.get(f"{registry}/health", timeout=2).status_code == 200,
                "the MLflow server up",
                90,
            )
            return started

        registry_process = start_registry()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
        env |= {
            "MLGATE_STATE_URL": state_url,
            "MLGATE_REGISTRY_URI": registry,
            "MLFLOW_TRACKING_URI": registry,
            "MLGATE_ADMIN_TOKEN": TOKEN,
            "MLGATE_POLL_INTERVAL": "0.2",
            "MLGATE_LOG_PATH": str(folder / "logs"),
            # A registry that is down fails a call in seconds, not after minutes of retries.
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        }
        config = write_project(folder)
        # CI's part, from the operator's host: the champion, then a challenger (one
        # process, so the imports are paid once).
        trained = subprocess.run(
            [sys.executable, "-c", TRAIN, str(config)],
            env=env | {"MLGATE_SPOOL_PATH": str(folder / "spool-ci")},
            capture_output=True,
            text=True,
            cwd=config.parent,
            timeout=240,
        )
        assert trained.returncode == 0, trained.stdout + trained.stderr
        nginx = balancer.start(
            [
                "nginx",
                "-c",
                str(
                    nginx_conf(
                        folder,
                        balancer.addresses["front"],
                        [r.host.addresses["front"] for r in replicas],
                    )
                ),
            ],
            log=folder / "nginx.log",
            env=dict(os.environ),
        )
        processes.append(nginx)
        made = Fleet(
            network,
            folder,
            config,
            state_url,
            registry,
            replicas,
            f"http://{balancer.addresses['front']}:8080",
            folder / "load.jsonl",
            env,
            start_registry,
            registry_process,
        )
        for replica in replicas:
            made.start(replica)
        for replica in replicas:
            made.ready(replica)
        rows = folder / "rows.json"
        rows.write_text(json.dumps(sample_rows(config)), encoding="utf-8")
        stop = folder / "stop"
        load = client.start(
            [
                sys.executable,
                str(HERE / "fleet_client.py"),
                made.lb,
                str(rows),
                str(made.load),
                "--stop",
                str(stop),
            ],
            log=folder / "client.log",
            env=dict(os.environ),
        )
        processes.append(load)
        wait_for(lambda: made.load.exists() and made.load.stat().st_size > 0, "client load")
        yield made
        stop.touch()
        load.wait(timeout=30)
        out = folder / "fleet-results.json"
        out.write_text(json.dumps(made.results, indent=2), encoding="utf-8")
        if os.environ.get("MLGATE_FLEET_RESULTS"):
            shutil.copy(out, os.environ["MLGATE_FLEET_RESULTS"])
        print(f"fleet results: {out}")
    finally:
        for replica in locals().get("replicas", []):
            if replica.process is not None and replica.process.poll() is None:
                replica.process.kill()
        network.close()
        for process in processes:
            if process.poll() is None:
                process.kill()
        if os.environ.get("MLGATE_FLEET_KEEP") is None:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_replica_cut_from_the_state_store_serves_its_last_split_and_rejoins(
    fleet: Fleet,
) -> None:
    start = time.time()
    r1, r2, r3 = fleet.replicas
    response = fleet.admin("POST", "/admin/rollout", json={"strategy": "canary", "weight": 30})
    assert response.status_code == 200, response.text
    for replica in fleet.replicas:
        wait_for(lambda r=replica: r.health()["state"]["weight"] == 30.0, "split 30 everywhere")
    rows = json.loads((fleet.folder / "rows.json").read_text(encoding="utf-8"))
    keys = [f"probe-{i}" for i in range(40)]
    at_30 = [keyed_versions(r.url, rows, keys) for r in fleet.replicas]
    assert at_30[0] == at_30[1] == at_30[2]  # the same split for the same keys everywhere
    assert 3 <= at_30[0].count("2") <= 25

    r2.host.cut("back")
    cut = time.monotonic()
    sixty = {"strategy": "canary", "weight": 60}
    response = fleet.admin("POST", "/admin/rollout", via=r1.url, json=sixty)
    assert response.status_code == 200, response.text
    for replica in (r1, r3):
        wait_for(lambda r=replica: r.health()["state"]["weight"] == 60.0, "split 60 on r1, r3")
    stale = wait_for(lambda: not r2.health()["state"]["current"] and r2.health(), "r2 stale", 15)
    noticed = time.monotonic() - cut
    assert stale["state"]["weight"] == 30.0
    metrics = httpx.get(f"{r2.url}/metrics", timeout=5).text
    assert "mlgate_state_current 0.0" in metrics
    assert keyed_versions(r2.url, rows, keys) == at_30[1]  # still the split it last knew

    r2.host.mend("back")
    mended = time.monotonic()
    wait_for(
        lambda: r2.health()["state"]["current"] and r2.health()["state"]["weight"] == 60.0,
        "r2 back on the current split",
        30,
    )
    rejoined = time.monotonic() - mended
    assert "mlgate_state_current 1.0" in httpx.get(f"{r2.url}/metrics", timeout=5).text
    assert keyed_versions(r2.url, rows, keys) == keyed_versions(r1.url, rows, keys)
    fleet.record(
        "state-store-cut",
        start,
        time.time(),
        stale_noticed_s=round(noticed, 2),
        rejoined_s=round(rejoined, 2),
    )


def test_a_canary_survives_its_lease_holder_being_killed(fleet: Fleet) -> None:
    start = time.time()
    response = fleet.admin("POST", "/admin/rollout/start")
    assert response.status_code == 200, response.text
    wait_for(
        lambda: fleet.rollout().plan.get("step", 0) >= 2 and fleet.rollout().status == "running",
        "the canary at step 2",
        60,
    )
    holder = wait_for(fleet.lease_holder, "a lease holder")
    victim = next(r for r in fleet.replicas if holder.startswith(f"{r.host.name}:"))
    before = fleet.rollout()
    assert victim.process is not None
    victim.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    victim.process.wait(timeout=10)
    after_kill = fleet.rollout()
    taker = wait_for(
        lambda: (h := fleet.lease_holder()) and not h.startswith(f"{victim.host.name}:") and h,
        "another replica holding the lease",
        LEASE + 10,
    )
    failover = time.monotonic() - killed
    taken_over = fleet.rollout()
    # Nothing moved while no one held the lease, and the new holder goes on from there.
    assert (after_kill.plan["step"], after_kill.weight) == (before.plan["step"], before.weight) or (
        after_kill.plan["step"] == before.plan["step"] + 1
    )
    assert taken_over.status == "running"
    assert taken_over.plan["step"] >= after_kill.plan["step"]
    assert failover <= LEASE + 2.0, f"the lease changed hands after {failover:.1f} s"
    final = wait_for(
        lambda: (r := fleet.rollout()).status != "running" and r, "the canary finished", 60
    )
    assert final.status == "promoted", final
    fleet.start(victim)
    fleet.ready(victim)
    fleet.record(
        "canary-with-lease-holder-killed",
        start,
        time.time(),
        failover_s=round(failover, 2),
        lease_s=LEASE,
        killed_at_step=before.plan["step"],
        killed_at_weight=before.weight,
        new_holder=taker.split(":")[0],
    )
    for replica in fleet.replicas:
        wait_for(lambda r=replica: r.health()["state"]["weight"] == 0.0, "promoted everywhere")


def test_a_rolling_restart_fails_no_request(fleet: Fleet) -> None:
    start = time.time()
    for replica in fleet.replicas:
        assert replica.process is not None
        replica.process.send_signal(signal.SIGTERM)
        assert replica.process.wait(timeout=60) == 0
        fleet.start(replica)
        fleet.ready(replica)
    fleet.record("rolling-restart", start, time.time(), restarted=len(fleet.replicas))


def test_a_registry_outage_keeps_serving_and_refuses_acts_clearly(fleet: Fleet) -> None:
    start = time.time()
    registry = next(h for h in fleet.network.hosts if h.name == "mlflow")
    r1 = fleet.replicas[0]
    registry.cut("back")  # the registry's host gone from the network: calls time out
    down = time.time()
    time.sleep(1.0)
    # Straight to a replica: nginx would retry a slow act on the next one.
    drill = {"reason": "registry outage drill"}
    refused = fleet.admin("POST", "/admin/rollback", via=r1.url, json=drill)
    assert refused.status_code in (502, 503), refused.text
    body = refused.json()
    assert "registry" in body["error"], body
    assert "Traceback" not in refused.text, body
    # The champion is unchanged and still answers.
    rows = json.loads((fleet.folder / "rows.json").read_text(encoding="utf-8"))
    for replica in fleet.replicas:
        assert replica.health()["state"]["current"]
        assert keyed_versions(replica.url, rows, ["during-outage"]) == ["2"]
    outage = time.time() - down
    registry.mend("back")
    wait_for(
        lambda: httpx.get(f"{fleet.registry}/health", timeout=2).status_code == 200,
        "the registry reachable again",
    )
    response = fleet.admin("POST", "/admin/rollback", json={"reason": "registry back"})
    assert response.status_code == 200, response.text
    for replica in fleet.replicas:
        wait_for(
            lambda r=replica: keyed_versions(r.url, rows, ["after-rollback"]) == ["1"],
            "the rolled-back champion served everywhere",
        )
    fleet.record(
        "registry-outage",
        start,
        time.time(),
        outage_s=round(outage, 2),
        refused_with=refused.status_code,
        message=body["error"][:200],
    )


def test_the_log_holds_one_record_per_answer(fleet: Fleet) -> None:
    import pyarrow.dataset as ds

    for replica in fleet.replicas:
        assert replica.process is not None
        replica.process.send_signal(signal.SIGTERM)
        replica.process.wait(timeout=60)
    answers = [r for r in fleet.requests_between(0, time.time()) if r["status"] == 200]
    table = ds.dataset(str(fleet.folder / "logs" / "predictions"), format="parquet").to_table(
        columns=["request_id", "role", "served", "key", "weight", "version"]
    )
    records = table.to_pylist()
    served: dict[str, int] = defaultdict(int)
    split: dict[tuple[str, float], set[str]] = defaultdict(set)
    for record in records:
        if record["served"] and record["role"] in ("champion", "challenger"):
            served[record["request_id"]] += 1
            if record["key"] and 0 < (record["weight"] or 0) < 100:
                split[(record["key"], record["weight"])].add(record["version"])
    missing_ids = [a["id"] for a in answers if served.get(a["id"]) != 1]
    assert not missing_ids, f"{len(missing_ids)} answers without exactly one record"
    disagreeing = {k: v for k, v in split.items() if len(v) > 1}
    assert not disagreeing, f"one key, one weight, several versions: {disagreeing}"
    fleet.results["log"] = {
        "answers": len(answers),
        "records": len(records),
        "served_records_without_an_answer": len(served) - len({a["id"] for a in answers}),
        "keyed_splits_checked": len(split),
    }
    print(f"fleet log: {json.dumps(fleet.results['log'])}")
