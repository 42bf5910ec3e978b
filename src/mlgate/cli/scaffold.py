"""`mlgate init` and `mlgate ci generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlgate.cli.output import friendly, out

ci_app = typer.Typer(help="CI workflows for the project.", no_args_is_help=True)


@friendly
def init(
    folder: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    example: Annotated[
        str, typer.Option("--example", help="Example to start from: credit.")
    ] = "credit",
    bare: Annotated[
        bool, typer.Option("--bare", help="No example data: a config to fill in.")
    ] = False,
    ci: Annotated[str, typer.Option("--ci", help="CI workflows to write: github or none.")] = (
        "github"
    ),
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite existing files (never through a symbolic link)."),
    ] = False,
) -> None:
    """Scaffold a project: config, schema, example data, tests, workflows, README."""
    from mlgate.scaffold.project import init_project

    written = init_project(
        folder,
        example=None if bare else example,
        bare=bare,
        ci=None if ci == "none" else ci,
        force=force,
    )
    out.print(f"created {len(written)} file(s) in {escape(str(folder))}/")
    for path in written:
        out.print(f"  {escape(str(path.relative_to(folder)))}")
    enter = "" if folder.resolve() == Path.cwd() else f"cd {escape(str(folder))} && "
    out.print(
        f"\nnext: {enter}mlgate run && python -m pytest -q"
        if not bare
        else f"\nnext: put your data in {escape(str(folder))}/data/train.csv and edit mlgate.yaml"
    )


@ci_app.command("generate")
@friendly
def generate(
    config: Annotated[Path, typer.Option("-c", "--config", help="The pipeline config.")] = Path(
        "mlgate.yaml"
    ),
    python: Annotated[str, typer.Option("--python", help="Python version in CI.")] = "3.11",
) -> None:
    """Write or refresh the GitHub Actions workflows from the config."""
    from mlgate.config.loader import load_config
    from mlgate.scaffold.workflows import write_workflows

    loaded = load_config(config)
    written = write_workflows(loaded, loaded.base_dir, config_path=config.name, python=python)
    for path in written:
        out.print(f"wrote {escape(str(path))}")


def register(app: typer.Typer) -> None:
    """Add `mlgate init` and `mlgate ci` to the root app."""
    app.command("init")(init)
    app.add_typer(ci_app, name="ci")
