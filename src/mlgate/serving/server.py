"""Running the gateway on uvicorn: one process, or several worker processes.

mlgate binds its listening sockets itself, with TCP_NODELAY set (accepted
connections inherit it): uvicorn's own multi-worker socket leaves Nagle's
algorithm on, which costs about 44 ms a request.

Several workers each listen on a socket of their own, all bound to the same port
with SO_REUSEPORT, so the kernel spreads new connections over them. On one shared
socket, whichever worker wakes first accepts every connection waiting: a worker
busy for a moment (writing a log segment) when a client opens its pool of
keep-alive connections is left without any, and the other serves them all on
one core. The supervisor holds the port (bound, not listening), restarts a
worker that dies, and stops them all gracefully on SIGTERM or SIGINT.

Beside the workers runs the log's converter (`mlgate.state.convert.run`), a
process of its own at a lower CPU priority: workers only append each answer's
record to their spool, and the converter makes Parquet segments of the spool
files, so no worker stalls while a segment is built. It starts once the workers
have loaded (loading has the CPU first), and first converts what a killed server
left; it is restarted if it dies, and stopped last, once the workers have closed
their spools. When the gateway is killed, it notices its parent is gone and
converts what is left.

`run_ui` serves only the dashboard (`mlgate ui`), for a project with no gateway.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from mlgate.config.settings import Settings
from mlgate.errors import ServeError
from mlgate.project import Project
from mlgate.serving.gateway import Gateway
from mlgate.state.spool import STOP

__all__ = ["build_gateway", "run_server", "run_ui", "uvicorn_options"]

log = logging.getLogger(__name__)

#: A worker that dies this many times within `_RESTART_WINDOW` seconds is not restarted:
#: something is wrong that a restart does not fix, and the whole server stops.
_RESTARTS, _RESTART_WINDOW = 5, 60.0


def build_gateway(
    config_path: Path, settings: Settings | None = None, *, convert: bool = True
) -> Gateway:
    """A gateway for the config's model with its champion (and challenger) loaded;
    `convert`: it makes its log's segments itself (else another process does)."""
    # A gateway reads a registry, never makes one: a URI naming no database is refused.
    project = Project.open(config_path, settings=settings, data_files=False, create=False)
    gateway = Gateway(project, convert=convert)
    gateway.check_logs()
    gateway.load()
    return gateway


class _Converter:
    """The log's converter process: started, kept running, stopped after the workers."""

    def __init__(self, config_path: Path) -> None:
        project = Project.open(config_path, data_files=False)
        self.args = (project.spool_root, project.log_root, 1.0, os.getpid())
        self.process: Any = None
        self._keeping = threading.Event()

    def start(self) -> _Converter:
        # A plain interpreter, not multiprocessing's: it imports only the converter (no
        # CLI), and with one worker no resource tracker process is started beside it.
        import mlgate

        env = dict(os.environ)
        here = str(Path(mlgate.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
        # Told to stop on its stdin, not by a signal: a converter still starting (slow on
        # a busy machine, at its low priority) has no handler yet, and a signal would end
        # it before it converts what is left. A server killed closes its stdin too.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlgate.state.convert", *map(str, self.args)],
            env=env,
            stdin=subprocess.PIPE,
        )
        return self

    def keep(self) -> None:
        """Start it again if it died (its spool files wait for it meanwhile)."""
        if self.process is not None and self.process.poll() is not None:
            log.warning(
                "the log converter exited with %s; starting another", self.process.returncode
            )
            self.start()

    def keep_in_background(self) -> None:
        """`keep` every second on a thread, until `stop`."""

        def loop() -> None:
            while not self._keeping.wait(1.0):
                self.keep()

        threading.Thread(target=loop, name="mlgate-converter-watch", daemon=True).start()

    def stop(self, timeout: float = 90.0) -> None:
        """Say STOP on its stdin: it converts what is left (bounded), then exits; SIGKILL past
        `timeout`."""
        self._keeping.set()
        process = self.process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # it may be gone already
                process.stdin.write(STOP)
                process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the log converter did not stop within %.0f s; killing it", timeout)
            process.kill()
            process.wait()


def _settle() -> None:
    """Keep the garbage collector off what is loaded by now, before serving starts.

    The modules and models a gateway loads are hundreds of thousands of objects;
    every full collection walked them all, about half a second with the server
    stalled. Frozen, they are left out, and collections only see what requests make.
    """
    gc.collect()
    gc.freeze()


def _listen(host: str, port: int, *, share: bool = False, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port with TCP_NODELAY; `share`: SO_REUSEPORT, so that
    each worker's own socket can bind the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
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


def uvicorn_options(settings: Settings, log_level: str) -> dict[str, Any]:
    """uvicorn's options for a gateway with these settings (see `connections`)."""
    from mlgate.serving.connections import guarded
    from mlgate.serving.limits import Limits

    limits = Limits.of(settings)
    return {
        "access_log": False,  # costs about a third of throughput; metrics and the log cover it
        "log_level": log_level,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
        # httptools with mlgate's limits on header sizes, time and connections
        "http": guarded(limits),
        "timeout_keep_alive": limits.keep_alive_timeout,
        "ws": "none",  # no WebSocket routes: an upgrade is not taken
    }


def _serve(
    config_path: Path,
    listen: Callable[[], socket.socket],
    log_level: str,
    loaded: Connection | None = None,
) -> None:
    """Load the models, then listen (`listen()`) and serve until SIGINT/SIGTERM.

    The socket listens only once the models are loaded: a connection the kernel
    handed to a listening worker still loading would wait seconds for its answer.
    `loaded`: the supervisor's end of a first start's handshake (see `_handshake`).
    """
    import uvicorn

    from mlgate.serving.app import create_app

    if loaded is None:
        gateway = build_gateway(config_path, convert=False)  # the converter process converts
    else:
        gateway = _handshake(loaded, lambda: build_gateway(config_path, convert=False))
    config = uvicorn.Config(create_app(gateway), **uvicorn_options(gateway.settings, log_level))
    _settle()
    sock = listen()
    served = gateway.describe()
    challenger = ""
    if served["challenger"]:
        share = (
            "no traffic yet"
            if served["strategy"] == "none"
            else f"{served['strategy']} {served['weight']:g}%"
        )
        challenger = f", challenger {served['challenger']} ({share})"
    host, port = sock.getsockname()[:2]
    log.info(
        "serving %s: champion %s%s on http://%s:%d (process %d)",
        served["model"],
        served["champion"],
        challenger,
        f"[{host}]" if ":" in host else host,
        port,
        os.getpid(),
    )
    server = uvicorn.Server(config)
    with _exit_zero_on_stop(server):
        server.run(sockets=[sock])


def _worker(
    config_path: Path, host: str, port: int, log_level: str, loaded: Connection | None = None
) -> None:
    """One worker process: load, then listen on its own socket on the shared port."""
    _log_as_uvicorn(log_level)
    _exit_with_parent(os.getppid())
    _serve(config_path, lambda: _listen(host, port, share=True), log_level, loaded)


def _handshake(loaded: Connection, load: Callable[[], Gateway]) -> Gateway:
    """A first start's load, told to the supervisor: None when it loaded, else the error
    (which the supervisor raises, once, for every worker). The worker then waits for the
    word to listen: either every worker loaded, or none of them listens."""
    try:
        gateway = load()
    except Exception as error:
        try:
            loaded.send(error)
        except Exception:  # an error that does not pickle: its words
            loaded.send(ServeError(f"loading the models failed: {error}"))
        os._exit(3)  # the supervisor reports the error; no second copy of it here
    loaded.send(None)
    try:
        go = loaded.recv()
    except EOFError:  # the supervisor is gone
        go = False
    if not go:
        gateway.close()
        os._exit(0)
    loaded.close()
    return gateway


def _log_as_uvicorn(log_level: str) -> None:
    """mlgate's own messages at `log_level`, as uvicorn writes its own."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(message)s")


def _exit_with_parent(parent: int) -> None:
    """Stop this worker gracefully when its supervisor is gone (killed with SIGKILL, say):
    else it would serve on, holding the port, with nobody to stop it."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="mlgate-parent-watch", daemon=True).start()


def run_server(
    config_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Serve until SIGINT/SIGTERM; shutdown finishes in-flight requests and flushes logs."""
    _log_as_uvicorn(log_level)
    if workers == 1:
        sock = _listen(host, port, listen=False)  # a port in use is refused before loading

        converter = _Converter(config_path)

        def listen() -> socket.socket:
            # The converter starts once the models are loaded: loading has the CPU first.
            converter.start().keep_in_background()
            sock.listen(2048)
            return sock

        try:
            _serve(config_path, listen, log_level)
        finally:
            converter.stop()
        return
    # A port someone else listens on is refused here, before any worker starts: the
    # probe does not share the port, so even another SO_REUSEPORT listener stops it.
    probe = _listen(host, port, listen=False)
    port = probe.getsockname()[1]  # --port 0: the one port the system chose, for every worker
    probe.close()
    hold = _listen(host, port, share=True, listen=False)  # the port stays ours meanwhile
    created = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        created = tempfile.mkdtemp(prefix="mlgate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
    shown = f"[{host}]" if ":" in host else host
    log.info("starting %d workers on http://%s:%d", workers, shown, port)
    try:
        _supervise(
            workers,
            (config_path.resolve(), host, port, log_level),
            converter=_Converter(config_path.resolve()),
            handshake=True,
        )
    finally:
        hold.close()
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _supervise(
    workers: int,
    args: tuple[Any, ...],
    target: Any = _worker,
    converter: _Converter | None = None,
    handshake: bool = False,
) -> None:
    """Run `workers` worker processes (and the log's `converter`) until a signal; restart
    one that dies.

    `handshake`: the first workers load side by side and each tells whether it loaded
    (`_handshake`); they listen only once all have, and the first one's error, if any,
    stops them all and is raised here, once: a bad config or registry is refused before
    anything listens, as fast as one worker loads.

    ServeError when workers die too often to go on (after stopping the others).
    """
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads
    stopping = threading.Event()

    def stop(number: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(index: int, loaded: Connection | None = None) -> Any:
        process = context.Process(
            target=target,
            args=args if loaded is None else (*args, loaded),
            name=f"mlgate-worker-{index}",
            daemon=False,
        )
        with _bare_main():
            process.start()
        return process

    deaths: list[float] = []
    failed = None
    ends = [context.Pipe() for _ in range(workers if handshake else 0)]
    running = [start(i, ends[i][1] if handshake else None) for i in range(workers)]
    try:
        for _, child in ends:
            child.close()
        if handshake:
            _first_load(running, [parent for parent, _ in ends], stopping)
        if converter is not None:  # once the workers loaded: loading has the CPU first
            converter.start()
        while not stopping.wait(0.5):
            if converter is not None:
                converter.keep()
            for index, process in enumerate(running):
                if process.is_alive() or stopping.is_set():
                    continue
                now = time.monotonic()
                deaths[:] = [t for t in deaths if now - t < _RESTART_WINDOW] + [now]
                if len(deaths) > _RESTARTS:
                    failed = (
                        f"workers exited {len(deaths)} times within {_RESTART_WINDOW:.0f} s, "
                        f"the last with exit code {process.exitcode}; the gateway stopped"
                    )
                    stopping.set()
                    break
                log.warning(
                    "worker %d exited with %s; starting another", process.pid, process.exitcode
                )
                running[index] = start(index)
    finally:
        for process in running:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)  # graceful: in-flight requests, logs
        deadline = time.monotonic() + 40
        for process in running:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join()
        if converter is not None:  # last: every worker's spool is closed by now
            converter.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise ServeError(
            failed, fix="See the workers' errors above; `--workers 1` shows them first."
        )


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """Start a spawned process without the parent's `__main__` (the `mlgate` script, so the
    whole CLI): a worker needs only its target, which is pickled by reference, and
    importing the CLI again cost each worker a tenth of a second of CPU at start."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _first_load(running: list[Any], ends: list[Connection], stopping: threading.Event) -> None:
    """Wait for every first worker's word on its load; tell them all to listen, or raise
    the first error (a worker that died without a word is one too) once they are told
    not to."""
    waiting = dict(zip(ends, running, strict=True))
    error: BaseException | None = None
    try:
        while waiting and error is None and not stopping.is_set():
            told = wait(list(waiting), timeout=0.5)
            for end in [end for end in list(waiting) if end in told]:
                process = waiting.pop(end)
                try:
                    error = end.recv()
                except EOFError:
                    process.join(5)
                    error = ServeError(
                        f"a worker exited with {process.exitcode} while loading the models; "
                        "the gateway stopped",
                        fix="See the worker's errors above; `--workers 1` shows them first.",
                    )
                if error is not None:
                    break
        for end in ends:
            with contextlib.suppress(OSError):
                end.send(error is None and not stopping.is_set())
    finally:
        for end in ends:
            end.close()
    if error is not None:
        raise error


def run_ui(
    config_path: Path, *, host: str = "127.0.0.1", port: int = 8090, log_level: str = "info"
) -> None:
    """Serve the dashboard of the config's project until SIGINT/SIGTERM.

    A model that is not registered is refused before anything listens.
    """
    import uvicorn

    from mlgate.serving.ui.alone import create_ui_app

    project = Project.open(config_path, data_files=False)
    try:
        project.catalog.aliases(project.name)  # refuses an unknown model, naming the known
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)  # a port in use: OSError
    except BaseException:
        project.close()
        raise
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(message)s")
    bound, chosen = sock.getsockname()[:2]
    shown = f"[{bound}]" if ":" in bound else bound
    log.info("dashboard of %s on http://%s:%d/ui (read-only)", project.name, shown, chosen)
    config = uvicorn.Config(create_ui_app(project), **uvicorn_options(project.settings, log_level))
    server = uvicorn.Server(config)
    with _exit_zero_on_stop(server):
        server.run(sockets=[sock])
