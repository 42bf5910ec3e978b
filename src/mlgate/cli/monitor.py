"""`mlgate drift` and `mlgate monitor`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from mlgate.cli.engine import EngineOption, data_engine
from mlgate.cli.output import FAILED, PASSED, err, friendly, out, print_json, progress

if TYPE_CHECKING:
    from mlgate.drift.detector import DriftReport
    from mlgate.monitor.result import CycleResult


#: Fewest current rows a drift test is run on: fewer say nothing either way.
MIN_ROWS = 30


def render_drift(report: DriftReport) -> None:
    """The drift table and the dataset verdict, for people."""
    table = Table("column", "test", "statistic", "p (adjusted)", "drifted", "unseen")
    rows = [(c.column, c) for c in sorted(report.columns, key=lambda c: (not c.drifted, c.column))]
    for role, extra in (("prediction", report.prediction), ("label", report.label)):
        if extra is not None:
            rows.append((role if extra.column == role else f"{extra.column} ({role})", extra))
    for shown, c in rows:
        table.add_row(
            escape(shown),
            c.test,
            f"{c.statistic:.4f}",
            "-" if c.p_adjusted is None else f"{c.p_adjusted:.3g}",
            "[red]yes[/]" if c.drifted else "no",
            escape(", ".join(c.unseen[:5])),
        )
    out.print(table)
    verdict = "[red]dataset drift[/]" if report.dataset_drift else "[green]no dataset drift[/]"
    out.print(
        f"{verdict}: {len(report.drifted)} of {len(report.columns)} columns "
        f"({report.share:.0%}; the line is {report.threshold:.0%})"
    )


@friendly
def drift(
    reference: Annotated[
        str,
        typer.Argument(help="Data file, profile.json, run folder, or models:/NAME@ALIAS."),
    ],
    current: Annotated[str, typer.Argument(help="Current data: CSV or Parquet.")],
    config: Annotated[
        Path | None,
        typer.Option(
            "-c",
            "--config",
            help="Config whose monitor.drift settings, data.target, data.features and "
            "data.drop apply [default: ./mlgate.yaml if there is one].",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report.")] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write a Markdown report.")
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when the dataset drifted.")
    ] = False,
    engine: EngineOption = None,
) -> None:
    """Test every column of CURRENT for drift from REFERENCE.

    With --engine spark, both sides are profiled on Spark (Parquet or CSV files or
    folders, or tables) and compared as profiles.
    """
    from mlgate.monitor.check import check_drift
    from mlgate.project import Project

    settings, target, columns, drop = None, None, None, None
    task: Literal["auto", "classification", "regression"] = "auto"
    if config is None and Path("mlgate.yaml").is_file():
        config = Path("mlgate.yaml")
    chosen, spark = data_engine(engine, config)
    samples: dict[str, Any] | None = {} if chosen == "spark" else None
    # A config asked for but missing is an error; a registry is read, never made.
    project = Project.open(config, create=False)
    if project.has_config:
        loaded = project.config
        settings, target, task = loaded.monitor.drift, loaded.data.target, loaded.task
        columns, drop = loaded.data.features, loaded.data.drop
    report = check_drift(
        reference,
        current,
        config=settings,
        project=project,
        columns=columns,
        target=target,
        task=task,
        drop=drop,
        engine=chosen,
        spark=spark,
        samples=samples,
    )
    smallest = max((c.current_rows for c in report.columns), default=0)
    if smallest < MIN_ROWS:
        from mlgate.errors import DataError

        raise DataError(
            f"only {smallest} usable row(s) to test; drift needs at least {MIN_ROWS}",
            source=current,
            fix="Compare a larger sample of recent data.",
        )
    for path in (markdown, html):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if markdown:
        from mlgate.reporting.drift import drift_markdown

        markdown.write_text(drift_markdown(report), encoding="utf-8")
    if html:
        from mlgate.monitor.check import plot_samples
        from mlgate.reporting.drift import drift_html

        if samples is None:
            samples = plot_samples(report, reference, current, project=project)
        html.write_text(drift_html(report, samples), encoding="utf-8")
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        render_drift(report)
    raise typer.Exit(FAILED if fail_on_drift and report.dataset_drift else PASSED)


#: Where a retraining that registered nothing stopped, for people.
_STOPPED = {
    "data": "nothing to retrain on",
    "error": "it could not run",
    "validate": "the retraining set failed validation",
    "gate": "at its gates",
    "done": "after its gates",
}


def _performance(result: CycleResult) -> str:
    """Live and estimated performance side by side: a classifier's accuracy (and, binary,
    F1 and ROC AUC), a regressor's MAE and RMSE."""
    error = result.estimated_error
    if error is not None or result.live_mae is not None:
        live = "-" if result.live_mae is None else f"{result.live_mae:.4g}"
        said = f"live MAE {live}"
        if result.live_rmse is not None:
            said += f", RMSE {result.live_rmse:.4g}"
        if error is not None:
            said += (
                f"; estimated MAE {error.mae:.4g} ({error.mae_low:.4g} to {error.mae_high:.4g}),"
                f" RMSE {error.rmse:.4g} ({error.rmse_low:.4g} to {error.rmse_high:.4g})"
            )
        if result.error_gap is not None:
            said += f"; realized minus estimated MAE on the labelled rows {result.error_gap:+.4g}"
        return _noted(said, result)
    accuracy = "-" if result.live_accuracy is None else f"{result.live_accuracy:.3f}"
    estimate = result.estimated_accuracy
    said = f"live accuracy {accuracy}"
    if estimate is not None:
        said += f", estimated {estimate.accuracy:.3f} ({estimate.low:.3f} to {estimate.high:.3f})"
    binary = result.estimated_binary
    if binary is not None:
        said += f"; estimated F1 {binary.f1:.3f} ({binary.f1_low:.3f} to {binary.f1_high:.3f})"
        if binary.roc_auc is not None:
            said += (
                f", ROC AUC {binary.roc_auc:.3f} ({binary.roc_auc_low:.3f} to "
                f"{binary.roc_auc_high:.3f})"
            )
    if result.estimate_gap is not None:
        said += f"; realized minus estimated on the labelled rows {result.estimate_gap:+.3f}"
    return _noted(said, result)


def _noted(said: str, result: CycleResult) -> str:
    """`said`, and why there is no estimate when there is none."""
    if result.estimate_note and result.estimated_accuracy is None and not result.estimated_error:
        said += f" (no estimate: {result.estimate_note})"
    return said


def render_cycle(result: CycleResult) -> None:
    """One monitoring cycle's verdict, for people."""
    colour = {"healthy": "green", "insufficient": "yellow"}.get(result.status, "red")
    out.print(
        f"[{colour}]{result.status}[/] — champion {result.champion}, {result.rows} served rows, "
        f"{result.labelled} labelled, {_performance(result)}"
    )
    for reason in result.reasons + result.notes:
        out.print(f"  - {escape(reason)}")
    if result.drift is not None and result.drift.drifted:
        render_drift(result.drift)
    if result.retrain_version is not None:
        outcome = "passed" if result.retrain_passed else "did not pass"
        out.print(
            f"retrained: version {result.retrain_version} {outcome} its gates "
            f"(retrain gate: {result.retrain_gate})"
            + (f" and is {result.retrain_alias}" if result.retrain_alias else "")
        )
    elif result.retrain_stage is not None:
        out.print(
            f"[red]retraining stopped ({_STOPPED[result.retrain_stage]}); no version was "
            "registered[/]: see the notes above"
        )
    if result.rollout_started:
        out.print("rollout started for the retrained challenger")


@friendly
def monitor(
    config: Annotated[Path, typer.Option("-c", "--config", help="The pipeline config.")] = Path(
        "mlgate.yaml"
    ),
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Time between cycles, e.g. 10m [default: monitor.every]."),
    ] = None,
    no_retrain: Annotated[
        bool, typer.Option("--no-retrain", help="Only report; never retrain.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each cycle as JSON.")] = False,
    cycles: Annotated[
        int | None, typer.Option("--cycles", min=1, help="Stop after this many cycles.")
    ] = None,
) -> None:
    """Watch live traffic for drift and degraded accuracy; retrain through the gates.

    With --once the exit code says the verdict: 0 healthy (or too little data), 1 drift
    or degraded.
    """
    from mlgate.config.rollout import parse_duration
    from mlgate.errors import ConfigError
    from mlgate.monitor.cycle import run_cycle
    from mlgate.project import Project

    project = Project.open(config)
    try:
        pause = parse_duration(every) if every is not None else project.config.monitor.every
    except ValueError as e:
        raise ConfigError(str(e), field="--every", value=every) from e
    done = 0
    while True:
        with progress(not as_json) as say:
            result = run_cycle(project, retrain=not no_retrain, progress=say)
        if as_json:
            print_json(result.model_dump(mode="json"))
        else:
            render_cycle(result)
        done += 1
        project.notifier.close()  # this cycle's notifications delivered before the next
        if once or (cycles is not None and done >= cycles):
            project.close()
            bad = result.status in ("drift", "degraded")
            raise typer.Exit(FAILED if once and bad else PASSED)
        err.print(f"next cycle in {pause:.0f} s; Ctrl-C stops")
        time.sleep(pause)


def register(app: typer.Typer) -> None:
    """Add `mlgate drift` and `mlgate monitor` to the root app."""
    app.command("drift")(drift)
    app.command("monitor")(monitor)
