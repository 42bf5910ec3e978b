"""Running the gateway on uvicorn: one process, or several workers sharing one socket.

Several workers share the listening socket mlgate binds itself with
TCP_NODELAY set (accepted connections inherit it): uvicorn's own multi-worker
socket leaves Nagle's algorithm on, which costs about 44 ms a request.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings, load_settings
from mlgate.registry.catalog import Catalog
from mlgate.serving.gateway import Gateway

__all__ = ["build_gateway", "run_server", "worker_app"]

_CONFIG_ENV = "MLGATE_SERVE_CONFIG"


def build_gateway(config_path: Path, settings: Settings | None = None) -> Gateway:
    """A gateway for the config's model with its champion (and challenger) loaded."""
    config = load_config(config_path, data_files=False)
    settings = settings or load_settings()
    gateway = Gateway(config, settings, Catalog.open(config.base_dir, settings))
    gateway.predictions.check()
    gateway.feedback.check()
    gateway.load()
    return gateway


def worker_app() -> Any:
    """The app factory each worker process calls (config path from the environment)."""
    from mlgate.serving.app import create_app

    app = create_app(build_gateway(Path(os.environ[_CONFIG_ENV])))
    _settle()
    return app


def _settle() -> None:
    """Keep the garbage collector off what is loaded by now, before serving starts.

    The modules and models a gateway loads are hundreds of thousands of objects;
    every full collection walked them all, about half a second with the server
    stalled. Frozen, they are left out, and collections only see what requests make.
    """
    gc.collect()
    gc.freeze()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def _exit_zero_on_stop(server: Any) -> Iterator[None]:
    """Let a graceful stop on SIGTERM/SIGINT end the process with exit code 0.

    uvicorn shuts down on the signal, then raises it again for the handler it
    found in place; with the default one that kills the process (exit -15)
    after a shutdown that went well. The handler put in place here ignores that
    second raise, and hands a signal that comes before uvicorn listens to it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(number: int, frame: Any) -> None:
        if not server.should_exit:  # uvicorn is not listening yet: stop it as it would
            server.handle_exit(number, frame)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_server(
    config_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Serve until SIGINT/SIGTERM; shutdown finishes in-flight requests and flushes logs."""
    import uvicorn

    from mlgate.serving.app import create_app

    options: dict[str, Any] = {
        "access_log": False,  # costs about a third of throughput; metrics and the log cover it
        "log_level": log_level,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
    }
    sock = _listen(host, port)
    if workers == 1:
        gateway = build_gateway(config_path)
        config = uvicorn.Config(create_app(gateway), **options)
        _settle()
        server = uvicorn.Server(config)
        with _exit_zero_on_stop(server):
            server.run(sockets=[sock])
        return
    build_gateway(config_path).close()  # refuse a bad config or registry before forking
    os.environ[_CONFIG_ENV] = str(config_path.resolve())
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mlgate-metrics-"))
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "mlgate.serving.server:worker_app", factory=True, workers=workers, **options
    )
    Multiprocess(config, sockets=[sock]).run()
