"""`mlgate score`: a registered version over a dataset, into Parquet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mlgate.cli.engine import EngineOption, data_engine
from mlgate.cli.output import FAILED, PASSED, err, friendly, out, print_json

if TYPE_CHECKING:
    from mlgate.scoring.result import ScoreResult


@contextmanager
def _bar(enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress bar of rows on stderr (a terminal only), fed by the library."""
    if not enabled or not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("score", total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def render(result: ScoreResult) -> None:
    """The run's summary, for people."""
    rate = f"{result.rows_per_s:,.0f} rows/s"
    out.print(
        f"{escape(result.model)} version {escape(result.version)} ({result.engine}): "
        f"{result.rows_scored:,} row(s) scored, {result.rows_skipped:,} skipped, of "
        f"{result.rows_read:,} read in {result.seconds:.1f} s ({rate} after "
        f"{result.seconds - result.scoring_seconds:.1f} s loading the model)"
    )
    if result.refusal_codes:
        counted = ", ".join(f"{code} {n:,}" for code, n in sorted(result.refusal_codes.items()))
        out.print(f"skipped by reason: {escape(counted)}")
    for refusal in result.refusals[:5]:
        out.print(f"[red]✗[/] {escape(refusal.reason)}")
    if result.rows_skipped > 5:
        out.print(f"… and {result.rows_skipped - 5:,} more (--json lists the first 20)")
    if result.request_id and result.complete:
        out.print(
            f"logged {result.rows_logged:,} row(s) as {escape(str(result.role))}, request id "
            f"{result.request_id} (labels: mlgate feedback, keyed by row_id)"
        )
    if result.output:
        out.print(f"predictions: {escape(result.output)}")
    else:
        out.print("[red]FAILED[/]: a row was refused under --strict; nothing was written")


@friendly
def score(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI", help="models:/NAME@champion, models:/NAME/VERSION or a run folder."
        ),
    ],
    input: Annotated[
        str, typer.Argument(help="Parquet or CSV file or folder (a path or fsspec URL).")
    ],
    output: Annotated[
        str, typer.Argument(help="A .parquet file, or a folder for part files (path or URL).")
    ],
    engine: EngineOption = None,
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="An input column copied to the output beside each row."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Stop at the first refused row, write nothing, exit 1."),
    ] = False,
    log: Annotated[
        bool,
        typer.Option("--log", help="Append every scored row to the prediction log, route batch."),
    ] = False,
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="Rows read and scored at a time.")
    ] = 65_536,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace OUTPUT when it is there.")
    ] = False,
    config: Annotated[
        Path,
        typer.Option("-c", "--config", help="Project config: its registry, settings and logs."),
    ] = Path("mlgate.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Score every row of INPUT with MODEL_URI into OUTPUT, through the gateway's input checks.

    A refused row is skipped with its row id and reason (exit 0), or with --strict the run
    stops and writes nothing (exit 1). Exit 2: the model, input or output cannot be used.
    """
    from mlgate.project import Project
    from mlgate.scoring import score as run_score

    engine, _ = data_engine(engine, config)
    chosen: Literal["local", "spark"] = "spark" if engine == "spark" else "local"
    with (
        Project.open(config, required=False, create=False) as project,
        _bar(not quiet and not as_json) as progress,
    ):
        result = run_score(
            project,
            model,
            input,
            output,
            engine=chosen,
            id_column=id_column,
            batch_rows=batch_rows,
            strict=strict,
            log=log,
            overwrite=overwrite,
            progress=progress,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        render(result)
    raise typer.Exit(PASSED if result.complete else FAILED)


@friendly
def feedback(
    labels: Annotated[
        str,
        typer.Argument(help="CSV or Parquet with request_id, row_id (or row) and label."),
    ],
    model: Annotated[
        str | None, typer.Option("--model", help="The model's name [default: the config's].")
    ] = None,
    config: Annotated[
        Path, typer.Option("-c", "--config", help="Project config: its registry and logs.")
    ] = Path("mlgate.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Record ground-truth labels of logged rows (a `mlgate score --log` run's: its output's
    request_id and row_id), as POST /feedback does: a row labelled before keeps its first
    label. One bad label: none is kept (exit 2)."""
    from mlgate.project import Project
    from mlgate.scoring import send_labels

    with Project.open(config, required=model is None, create=False) as project:
        result = send_labels(project, labels, model=model)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        out.print(
            f"{escape(result.model)}: {result.accepted:,} label(s) recorded, "
            f"{result.unknown:,} for request ids never issued (not kept), "
            f"{result.duplicate:,} for rows labelled before (not kept)"
        )


def register(app: typer.Typer) -> None:
    """Add `mlgate score` and `mlgate feedback` to the root app."""
    app.command("score")(score)
    app.command("feedback")(feedback)
