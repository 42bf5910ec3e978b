"""`mlgate ui`: the dashboard for a project with no gateway running."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli.output import friendly
from mlgate.cli.serve import LogLevel, cannot_listen


@friendly
def ui(
    config: Annotated[Path, typer.Option("-c", "--config", help="The pipeline config.")] = Path(
        "mlgate.yaml"
    ),
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to bind.")] = 8090,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = LogLevel.info,
) -> None:
    """Serve the dashboard (/ui) from the registry, state store and prediction log.

    The same page as `mlgate serve` has at /ui, for a project with no gateway
    running: the rollout and its events, the models, the traffic. Read-only:
    acts need a gateway's admin API. Reads need MLGATE_READ_TOKEN when it is set.
    """
    from mlgate.serving.server import run_ui

    try:
        run_ui(config, host=host, port=port, log_level=log_level.value)
    except OSError as e:
        raise cannot_listen(host, port, e) from e


def register(app: typer.Typer) -> None:
    """Add `mlgate ui` to the root app."""
    app.command("ui")(ui)
