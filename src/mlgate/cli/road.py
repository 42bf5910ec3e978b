"""`mlgate train`, `evaluate`, `run` and `quickstart`: the road from config to verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlgate.cli.data import render_report
from mlgate.cli.output import FAILED, PASSED, err, friendly, out, print_json, progress

if TYPE_CHECKING:
    from mlgate.results import RunResult

ConfigOption = Annotated[
    Path, typer.Option("-c", "--config", help="The pipeline config.", show_default=True)
]
OutputOption = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Folder for the outputs [default: .mlgate/runs/NAME/ID]."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")]


def _metrics_table(metrics: dict[str, float | None]) -> Table:
    table = Table("metric", "value")
    for name, value in metrics.items():
        table.add_row(name, "n/a" if value is None else f"{value:.4f}")
    return table


def render_run(result: RunResult) -> None:
    """A run's verdict, metrics, gates and output paths, for people (warnings on stderr)."""
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    for report in result.validation.values():
        if not report.passed:
            render_report(report)
    if result.metrics:
        out.print(_metrics_table(result.metrics))
    for cv in result.cross_validation:
        out.print(f"cross-validation {cv.metric}: {cv.mean:.4f} ± {cv.std:.4f} ({cv.folds} folds)")
    if result.gates:
        for check in result.gates.checks:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            out.print(f"{mark} gate: {escape(check.reason)}")
    verdict = "[green]PASSED[/]" if result.passed else f"[red]FAILED[/] at {result.stage}"
    out.print(f"{escape(result.name)}: {verdict}")
    for reason in result.reasons if result.stage != "validate" else []:
        out.print(f"  - {escape(reason)}")
    if result.comparison is not None:
        from mlgate.cli.compare import render_comparison

        out.print(f"against the champion ({escape(result.comparison.baseline_ref)}):")
        render_comparison(result.comparison, verdict=False)
    registered = result.registration
    if registered is not None:
        where = f" as {registered.alias}" if registered.alias else " (no alias: it failed)"
        out.print(f"registered {escape(registered.uri)}{where}")
    out.print(f"outputs: {escape(result.output_dir)}")


def _road(
    config: Path,
    output: Path | None,
    as_json: bool,
    quiet: bool,
    *,
    gates: bool,
    register: bool = False,
    deploy: bool = False,
) -> None:
    from mlgate.project import Project
    from mlgate.road.rollouts import deploy as start_if_challenger
    from mlgate.road.run import run

    with Project.open(config) as project, progress(not quiet and not as_json) as say:
        result = run(
            project.config,
            output=output,
            apply_gates=gates,
            register=register,
            progress=say,
            project=project,
        )
        rollout = start_if_challenger(project, result) if deploy else None
    if as_json:
        print_json(
            result.model_dump(mode="json")
            | {"rollout": rollout.model_dump(mode="json") if rollout else None}
        )
    else:
        render_run(result)
        if rollout is not None:
            out.print(
                f"rollout started: {rollout.strategy} at {rollout.weight:g}% "
                "(a running gateway advances it; see mlgate rollout status)"
            )
        elif deploy and result.passed:
            out.print("nothing to roll out: this version is the champion already")
    raise typer.Exit(PASSED if result.passed else FAILED)


@friendly
def train(
    config: ConfigOption = Path("mlgate.yaml"),
    output: OutputOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Validate the data, then fit and cross-validate the model; write it with its metrics."""
    _road(config, output, as_json, quiet, gates=False)


@friendly
def run(
    config: ConfigOption = Path("mlgate.yaml"),
    output: OutputOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    no_register: Annotated[
        bool, typer.Option("--no-register", help="Do not register the version.")
    ] = False,
    deploy: Annotated[
        bool,
        typer.Option("--deploy", help="Start the config's rollout when the version passes."),
    ] = False,
) -> None:
    """Validate → train → evaluate → gate (against the champion too) → register.

    The first version to pass becomes champion; later ones that pass become
    challenger. Exit 1 when validation or a gate fails (the version is still
    registered, marked failed).
    """
    if deploy and no_register:
        from mlgate.errors import ConfigError

        raise ConfigError("--deploy needs the version registered; drop --no-register")
    _road(config, output, as_json, quiet, gates=True, register=not no_register, deploy=deploy)


@friendly
def evaluate(
    model: Annotated[Path, typer.Argument(help="A run folder (or its model.skops).")],
    data: Annotated[str, typer.Argument(help="Labelled CSV or Parquet file.")],
    as_json: JsonOption = False,
) -> None:
    """Score a trained model on labelled DATA."""
    from mlgate.road.evaluate import evaluate_saved

    card, result = evaluate_saved(model, data)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out.print(f"{escape(card.name)} on {escape(data)}: {result.rows} rows")
    out.print(_metrics_table(result.metrics))


@friendly
def quickstart(
    folder: Annotated[Path, typer.Argument(help="Where to create the example project.")] = Path(
        "mlgate-quickstart"
    ),
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty folder, replacing the example's own files (never "
            "through a symbolic link).",
        ),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Create an example project (generated credit data, config, schema) and run the road."""
    from mlgate.errors import ConfigError
    from mlgate.project import Project
    from mlgate.road.run import run
    from mlgate.scaffold.example import write_example

    if folder.exists() and not folder.is_dir():
        raise ConfigError("exists and is not a folder.", file=folder, fix="Name another folder.")
    # --force overwrites the example's files only; it never deletes what else is there.
    if folder.exists() and any(folder.iterdir()) and not force:
        raise ConfigError(
            "the folder exists and is not empty.",
            file=folder,
            fix="Pass --force to write the example's files into it, or name another folder.",
        )
    config_path = write_example(folder)
    out.print(f"created the example project in {escape(str(folder))}/")
    out.print("  mlgate.yaml, schema.yaml, data/train.csv, data/test.csv, data/drifted.csv")
    with Project.open(config_path) as project, progress(not quiet) as say:
        result = run(project.config, register=True, progress=say, project=project)
    render_run(result)
    out.print(
        f"\nnext: cd {escape(str(folder))} && mlgate drift models:/credit-risk@champion "
        "data/drifted.csv\n      (data that drifted, against the champion's reference profile), "
        "then mlgate serve"
    )
    raise typer.Exit(PASSED if result.passed else FAILED)


def register(app: typer.Typer) -> None:
    """Add the road's commands to the root app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("run")(run)
    app.command("quickstart")(quickstart)
