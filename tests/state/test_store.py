"""The state store's alias history, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlgate.errors import ConfigError
from mlgate.state.store import StateStore


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'state.db'}"
    server = request.getfixturevalue("postgres")  # tests/state/conftest.py
    return str(server.new_database())


@pytest.fixture
def open_store() -> Iterator[Callable[[str], StateStore]]:
    """`open_store(url)`: a StateStore whose connections are closed after the test."""
    opened: list[StateStore] = []

    def make(url: str) -> StateStore:
        opened.append(StateStore(url))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def record(store: StateStore, alias: str, before: str | None, after: str | None, **kw: str) -> None:
    with store.moving_alias(
        model=kw.get("model", "demo"),
        alias=alias,
        from_version=before,
        to_version=after,
        action=kw.get("action", "promote"),
        actor=kw.get("actor", "alice"),
        reason=kw.get("reason", ""),
    ):
        pass


def test_alias_moves_come_back_in_order_with_every_field(
    url: str, open_store: Callable[[str], StateStore]
) -> None:
    started = datetime.now(UTC)
    store = open_store(url)
    record(store, "champion", None, "1", action="register", reason="first to pass")
    record(store, "challenger", None, "2", action="register", actor="ci")
    record(store, "champion", "1", "2", reason="better, see PR #12")
    record(store, "champion", "9", "10", model="other")
    record(store, "champion", "2", "1", action="rollback", actor="bob", reason="latency")
    history = open_store(url).alias_history("demo")  # a new process reads the same history
    assert [
        (e.alias, e.from_version, e.to_version, e.action, e.actor, e.reason) for e in history
    ] == [
        ("champion", None, "1", "register", "alice", "first to pass"),
        ("challenger", None, "2", "register", "ci", ""),
        ("champion", "1", "2", "promote", "alice", "better, see PR #12"),
        ("champion", "2", "1", "rollback", "bob", "latency"),
    ]
    assert [e.id for e in history] == sorted(e.id for e in history)
    for event in history:
        assert event.at.utcoffset() == timedelta(0)
        assert started - timedelta(seconds=5) <= event.at <= datetime.now(UTC)
    assert [e.to_version for e in store.alias_history("demo", "champion")] == ["1", "2", "1"]
    assert store.alias_history("unknown") == []


def test_a_move_in_a_transaction_that_fails_is_not_recorded(
    url: str, open_store: Callable[[str], StateStore]
) -> None:
    store = open_store(url)
    record(store, "champion", None, "1")

    def move_then_fail() -> None:
        with store.moving_alias(
            model="demo",
            alias="champion",
            from_version="1",
            to_version="2",
            action="promote",
            actor="alice",
        ):
            raise RuntimeError("the registry refused")

    with pytest.raises(RuntimeError, match=r"^the registry refused$"):
        move_then_fail()
    assert [e.to_version for e in store.alias_history("demo")] == ["1"]


def test_a_wrong_password_is_a_config_error_that_does_not_show_it(postgres: Any) -> None:
    url = postgres.url(password="wrong-s3cret")
    with pytest.raises(ConfigError) as caught:
        StateStore(url)
    message = str(caught.value)
    assert "wrong-s3cret" not in message
    assert message.startswith(
        "MLGATE_STATE_URL: cannot open the state store (OperationalError: "
        "(psycopg.OperationalError) connection failed: "
    )
    assert 'password authentication failed for user "mlgate"' in message
    assert f"Got 'postgresql+psycopg://mlgate:***@127.0.0.1:{postgres.port}/postgres'." in message
    assert (
        caught.value.value == f"postgresql+psycopg://mlgate:***@127.0.0.1:{postgres.port}/postgres"
    )


FIX = (
    "Set MLGATE_STATE_URL to a reachable SQLAlchemy URL (PostgreSQL: "
    "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB), or unset it for SQLite."
)


@pytest.mark.parametrize(
    ("url", "problem", "shown"),
    [
        (
            "postgresql+psycopg://bob:s3cret@localhost:notaport/db",
            "ValueError: invalid literal for int() with base 10: 'notaport'",
            "postgresql+psycopg://bob:***@localhost:notaport/db",
        ),
        (
            "bob:s3cret@localhost/db",
            "ArgumentError: Could not parse SQLAlchemy URL from given URL string",
            "bob:***@localhost/db",
        ),
        (
            "nosuchdb://bob:s3cret@localhost/db",
            "NoSuchModuleError: Can't load plugin: sqlalchemy.dialects:nosuchdb",
            "nosuchdb://bob:***@localhost/db",
        ),
    ],
)
def test_a_bad_url_is_a_config_error_with_the_password_redacted(
    url: str, problem: str, shown: str
) -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            f"MLGATE_STATE_URL: cannot open the state store ({problem}). Got {shown!r}. {FIX}"
        ),
    ) as caught:
        StateStore(url)
    assert "s3cret" not in str(caught.value)


def test_a_server_that_is_not_listening(unused_port: int) -> None:
    url = f"postgresql+psycopg://bob:s3cret@127.0.0.1:{unused_port}/db"
    with pytest.raises(ConfigError) as caught:
        StateStore(url)
    assert "s3cret" not in str(caught.value)
    assert f"Got 'postgresql+psycopg://bob:***@127.0.0.1:{unused_port}/db'." in str(caught.value)


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_stores_opened_at_once_on_a_fresh_database_all_open(url: str) -> None:
    """Gateways started together each make the tables; none fails on the other's."""
    import threading

    count = 6
    barrier = threading.Barrier(count)
    opened: list[StateStore] = []
    failed: list[BaseException] = []

    def open_one() -> None:
        barrier.wait(timeout=30)
        try:
            opened.append(StateStore(url))
        except BaseException as e:  # collected, then asserted on in the test's thread
            failed.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not failed, failed
        assert len(opened) == count
        record(opened[0], "champion", None, "1")
        assert [e.to_version for e in opened[-1].alias_history("demo")] == ["1"]
    finally:
        for store in opened:
            store.close()
