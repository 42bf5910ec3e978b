"""Test hosts made of Linux network namespaces: one namespace per host, veth pairs into
bridges of the root namespace, and each host's processes under a hostname of their own.

The root namespace takes an address on every bridge: it is the operator's (and CI's)
host, reaching every service as a machine on those networks would. Every name carries a
tag of the fleet's own, so fleets of concurrent sessions do not meet; `Network.close`
removes the namespaces (killing what runs in them) and the bridges, whatever happened.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shlex
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


def missing() -> str | None:
    """Why namespace hosts cannot be built here; None when they can."""
    if os.geteuid() != 0:
        return "the fleet test builds network namespaces, which needs root"
    for tool in ("ip", "unshare", "runuser"):
        if shutil.which(tool) is None:
            return f"the fleet test needs `{tool}`, which is not on PATH"
    probe = f"mlgprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode:
        return f"`ip netns add` failed here ({made.stderr.strip()})"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Host:
    """One namespace: its addresses per network, the processes started on it."""

    name: str
    namespace: str
    addresses: dict[str, str] = field(default_factory=dict)
    #: The root-namespace end of each network's veth pair: set it down to cut that link.
    links: dict[str, str] = field(default_factory=dict)
    #: Every process started here, reaped by `Network.close`.
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, command: list[str], *, log: Path, env: dict[str, str], user: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Run `command` on this host (its own hostname; as `user` if given)."""
        as_user = ["runuser", "-u", user, "--"] if user else []
        script = f'hostname {shlex.quote(self.name)} && exec "$@"'
        wrapped = [
            *("ip", "netns", "exec", self.namespace, "unshare", "--uts", "sh", "-c", script),
            "sh",
            *as_user,
            *command,
        ]
        with log.open("ab") as sink:
            started = subprocess.Popen(wrapped, stdout=sink, stderr=subprocess.STDOUT, env=env)
        self.processes.append(started)
        return started

    def cut(self, network: str) -> None:
        ip("link", "set", self.links[network], "down")

    def mend(self, network: str) -> None:
        ip("link", "set", self.links[network], "up")


class Network:
    """Bridges and namespace hosts, with a tag of their own; `close()` removes them all."""

    def __init__(self) -> None:
        self.tag = f"{os.getpid() % 10000:04d}{random.randrange(100):02d}"
        self.bridges: dict[str, tuple[str, ipaddress.IPv4Network]] = {}
        self.hosts: list[Host] = []
        self._veths = 0

    def bridge(self, network: str) -> None:
        """A bridge for `network`, a /24 no route of this machine covers, .1 for root."""
        taken = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
        while True:
            subnet = ipaddress.IPv4Network(
                f"10.{random.randrange(64, 250)}.{random.randrange(1, 250)}.0/24"
            )
            if str(subnet.network_address)[:-1] not in taken:
                break
        name = f"mlb{self.tag}{len(self.bridges)}"
        ip("link", "add", name, "type", "bridge")
        self.bridges[network] = (name, subnet)
        ip("addr", "add", f"{subnet.network_address + 1}/24", "dev", name)
        ip("link", "set", name, "up")

    def root(self, network: str) -> str:
        """The root namespace's address on `network`."""
        return str(self.bridges[network][1].network_address + 1)

    def host(self, name: str, networks: dict[str, int]) -> Host:
        """A host on each of `networks`, at the given last octet of its subnet."""
        host = Host(name, f"mlg{self.tag}-{name}")
        ip("netns", "add", host.namespace)
        self.hosts.append(host)
        ip("-n", host.namespace, "link", "set", "lo", "up")
        for index, (network, octet) in enumerate(networks.items()):
            bridge, subnet = self.bridges[network]
            outside, inside = f"mlv{self.tag}{self._veths}", f"eth{index}"
            self._veths += 1
            peer = ("peer", "name", inside, "netns", host.namespace)
            ip("link", "add", outside, "type", "veth", *peer)
            ip("link", "set", outside, "master", bridge)
            ip("link", "set", outside, "up")
            address = str(subnet.network_address + octet)
            ip("-n", host.namespace, "addr", "add", f"{address}/24", "dev", inside)
            ip("-n", host.namespace, "link", "set", inside, "up")
            host.addresses[network] = address
            host.links[network] = outside
        return host

    def close(self) -> None:
        """Kill every process left on the hosts, delete the namespaces and the bridges."""
        for host in self.hosts:
            found = subprocess.run(
                ["ip", "netns", "pids", host.namespace], capture_output=True, text=True
            ).stdout.split()
            for pid in found:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        for host in self.hosts:
            for process in host.processes:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=30)
        for host in self.hosts:
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
        for name, _subnet in self.bridges.values():
            subprocess.run(["ip", "link", "del", name], capture_output=True)
