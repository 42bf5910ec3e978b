"""A real PostgreSQL server for the state store's tests, started from the machine's binaries."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The superuser's password: the tests connect over TCP with it, as production would.
PASSWORD = "pg-test-s3cret"
USER = "mlgate"


@dataclass(frozen=True)
class Postgres:
    """A running server on 127.0.0.1: its port, and SQLAlchemy URLs to fresh databases."""

    port: int

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=PASSWORD,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest under /usr/lib/postgresql, else PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A PostgreSQL server for this session, listening on 127.0.0.1 only; stopped at the end.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` user. That
    user cannot reach pytest's temporary folders (pytest keeps them 0700 and resets the
    mode whenever a session starts), so then the cluster lives in a folder of its own
    under the system's temporary directory, removed at the end.
    """
    binaries = _binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under "
            "/usr/lib/postgresql/*/bin or on PATH; install the postgresql package to run these"
        )
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and `runuser` is missing to run PostgreSQL as postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
        home = Path(tempfile.mkdtemp(prefix="mlgate-pg-"))
        os.chown(home, owner.pw_uid, owner.pw_gid)
    else:
        home = tmp_path_factory.mktemp("postgres")
    data, log, pwfile = home / "data", home / "server.log", home / "pwfile"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if as_root:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)

    def pg(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    done = pg(
        str(binaries / "initdb"),
        "-D",
        str(data),
        "-U",
        USER,
        f"--pwfile={pwfile}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-sync",
    )
    if done.returncode:
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"initdb failed: {done.stderr or done.stdout}")
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        # not UTC, so that times read back are seen to be converted
        "-c timezone=America/New_York"
    )
    pg_ctl = str(binaries / "pg_ctl")
    started = pg(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    try:
        if started.returncode:
            server_log = log.read_text(encoding="utf-8") if log.exists() else ""
            pytest.fail(f"pg_ctl start failed: {started.stderr or started.stdout}\n{server_log}")
        yield Postgres(port)
    finally:
        pg(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop")
        shutil.rmtree(home, ignore_errors=True)
