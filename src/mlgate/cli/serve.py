"""`mlgate serve`: the gateway for the config's model."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgate.cli.output import friendly

if TYPE_CHECKING:
    from mlgate.errors import ConfigError


class LogLevel(StrEnum):
    """uvicorn's log levels."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


@friendly
def serve(
    config: Annotated[Path, typer.Option("-c", "--config", help="The pipeline config.")] = Path(
        "mlgate.yaml"
    ),
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to bind.")] = 8080,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes.")] = 1,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = LogLevel.info,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Inject a fault into the challenger to rehearse a rollback: errors=0.3, "
            "slow=10 or flip=0.4 (repeatable; as MLGATE_FAULTS).",
        ),
    ] = None,
) -> None:
    """Serve the champion (and the challenger in a rollout) over HTTP.

    Protocols: Open Inference (KServe V2) at /v2, MLflow scoring at /invocations,
    plain JSON at /predict; /feedback for labels (with a bearer token when
    MLGATE_FEEDBACK_TOKEN is set), /metrics for Prometheus, /admin with a bearer
    token (MLGATE_ADMIN_TOKEN).
    """
    import os

    from mlgate.config.faults import Faults
    from mlgate.errors import ConfigError
    from mlgate.serving.server import run_server

    if fault:
        text = ",".join(fault)
        try:
            Faults.parse(text)
        except ValueError as e:
            example = None if "For example" in str(e) else "For example: --fault errors=0.3."
            raise ConfigError(str(e), field="--fault", fix=example) from None
        before = os.environ.get("MLGATE_FAULTS")
        if before and before != text:
            from mlgate.cli.output import err

            err.print(f"--fault {text} replaces MLGATE_FAULTS={before}", markup=False)
        os.environ["MLGATE_FAULTS"] = text  # the workers read their settings from it

    try:
        run_server(config, host=host, port=port, workers=workers, log_level=log_level.value)
    except OSError as e:
        raise cannot_listen(host, port, e) from e


def cannot_listen(host: str, port: int, error: OSError) -> ConfigError:
    """The error to show for an address the server cannot listen on: in use, not this
    machine's, or not an address at all."""
    from mlgate.errors import ConfigError

    return ConfigError(
        f"cannot listen on {host}:{port}: {error.strerror or error}",
        field="--host/--port",
        fix="Choose a free port (--port) on an address of this machine (--host).",
    )


def register(app: typer.Typer) -> None:
    """Add `mlgate serve` to the root app."""
    app.command("serve")(serve)
