"""The root `mlgate` command; subcommands import the library only when they run."""

from __future__ import annotations

from typing import Annotated

import typer

from mlgate._version import __version__
from mlgate.cli import (
    compare,
    data,
    models,
    monitor,
    reference,
    report,
    road,
    rollout,
    scaffold,
    score,
    serve,
    smoke,
    ui,
)

app = typer.Typer(
    name="mlgate",
    help="Continuous delivery for machine-learning models: every step a gate with a verdict.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlgate {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """mlgate: validate → train → evaluate → gate, from one mlgate.yaml.

    Exit codes: 0 passed, 1 a check failed, 2 usage or configuration error.
    """


data.register(app)
road.register(app)
compare.register(app)
models.register(app)
report.register(app)
serve.register(app)
smoke.register(app)
rollout.register(app)
monitor.register(app)
score.register(app)
scaffold.register(app)
reference.register(app)
ui.register(app)


def main() -> None:
    """Entry point of the `mlgate` console script."""
    app()
