"""A lease held by a process that was SIGKILLed on this host is taken at once, not waited out.

Real processes: a child takes the lease in the same SQLite store and is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from mlgate.processes import Owner, holder
from mlgate.state.rollout import acquire_lease, release_lease
from mlgate.state.store import StateStore

#: Longer than any test: only a holder judged gone may free the lease.
TTL = 3600.0


def child_holding(url: str, name: str) -> subprocess.Popen[str]:
    """A process that takes lease `name` and prints its holder, then sleeps."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from mlgate.processes import holder
        from mlgate.state.rollout import acquire_lease
        from mlgate.state.store import StateStore
        me = holder()
        assert acquire_lease(StateStore({url!r}), {name!r}, me, ttl={TTL})
        print(me, flush=True)
        time.sleep(120)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip()
    return process


def test_a_killed_holder_s_lease_is_taken_and_a_living_one_s_is_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(url)
    child = child_holding(url, "acting")
    try:
        assert not acquire_lease(store, "acting", holder(), ttl=TTL)  # alive: waited out
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        mine = holder()
        assert acquire_lease(store, "acting", mine, ttl=TTL)
        assert not acquire_lease(store, "acting", holder(), ttl=TTL)  # and now it is mine
        release_lease(store, "acting", mine)
    finally:
        child.kill()
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()
        store.close()


def test_a_holder_is_never_judged_gone_on_another_host_or_when_unnamed() -> None:
    me = Owner.this()
    assert Owner.parse(holder()) == me
    assert not me.gone()
    assert not Owner("another-host", 1, "1").gone()
    assert Owner.parse("made-otherwise") is None
    assert Owner.parse("host:pid:x:y") is None


def test_a_process_id_taken_by_a_later_process_is_gone() -> None:
    me = Owner.this()
    assert Owner(me.host, os.getpid(), "1").gone()  # the same id, another start time
