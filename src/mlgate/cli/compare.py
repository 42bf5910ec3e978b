"""`mlgate compare` and `mlgate gate`: champion against candidate, and the verdict on it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlgate.cli.output import FAILED, PASSED, friendly, out, print_json, signed

if TYPE_CHECKING:
    from mlgate.gates.compare import Comparison

RuleOption = Annotated[
    str | None,
    typer.Option(
        "--rule", help="point, non_inferiority or significant_regression [default: the config's]."
    ),
]


def render_comparison(comparison: Comparison, *, verdict: bool = True) -> None:
    """The comparison table (and its verdict), for people."""
    table = Table("metric", "baseline", "candidate", "change", "interval")
    for name, m in comparison.metrics.items():
        interval = (
            f"{signed(m.ci_low)} … {signed(m.ci_high)}"
            if m.ci_low is not None and m.ci_high is not None
            else "-"
        )
        table.add_row(
            name,
            "-" if m.baseline is None else f"{m.baseline:.4f}",
            "-" if m.candidate is None else f"{m.candidate:.4f}",
            "-" if m.difference is None else signed(m.difference),
            interval,
        )
    out.print(table)
    if comparison.mcnemar:
        t = comparison.mcnemar
        out.print(
            f"McNemar exact: baseline-only right {t.baseline_only}, candidate-only right "
            f"{t.candidate_only}, p = {t.p_value:.4f}"
        )
    if verdict and comparison.verdict is not None:
        for check in comparison.verdict.checks:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            out.print(f"{mark} {escape(check.reason)}")
        out.print("[green]PASSED[/]" if comparison.verdict.passed else "[red]FAILED[/]")


def _write(path: Path, text: str, option: str) -> None:
    """Write a report, making its folder; a path that cannot be written is a usage error."""
    from mlgate.errors import ConfigError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"cannot write the report ({e.strerror or e}).",
            file=path,
            field=option,
            fix="Pass a path in a folder you can write to.",
        ) from e


@friendly
def compare(
    baseline: Annotated[
        str, typer.Option("--baseline", help="Run folder, models:/NAME/VERSION or NAME@ALIAS.")
    ],
    candidate: Annotated[
        str, typer.Option("--candidate", help="Run folder, models:/NAME/VERSION or NAME@ALIAS.")
    ],
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="Labelled rows to compare on [default: the candidate's test set]."
        ),
    ] = None,
    config: Annotated[
        Path, typer.Option("-c", "--config", help="Project config: its gates give the verdict.")
    ] = Path("mlgate.yaml"),
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write comparison.json here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write the Markdown report here.")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    rule: RuleOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Score two models on the same rows: differences, paired intervals, McNemar, verdict."""
    from mlgate.project import Project
    from mlgate.road.compare import compare_refs

    with Project.open(config, required=False, create=False) as project:
        comparison = compare_refs(project, baseline, candidate, data=data, rule=rule)
    if output:
        _write(output, comparison.model_dump_json(indent=2), "-o/--output")
    if markdown:
        from mlgate.reporting.comparison import comparison_markdown

        _write(markdown, comparison_markdown(comparison), "--markdown")
    if html:
        from mlgate.reporting.html import comparison_html

        _write(html, comparison_html(comparison), "--html")
    if as_json:
        print_json(comparison.model_dump(mode="json"))
    else:
        render_comparison(comparison)
    verdict = comparison.verdict
    raise typer.Exit(PASSED if verdict is None or verdict.passed else FAILED)


@friendly
def gate(
    comparison_file: Annotated[
        Path,
        typer.Argument(
            help="A comparison.json from mlgate compare, or a run's metrics.json (absolute "
            "floors and ceilings only)."
        ),
    ],
    min_accuracy: Annotated[
        float | None,
        typer.Option("--min-accuracy", min=0.0, max=1.0, help="Floor on the candidate's accuracy."),
    ] = None,
    max_regression: Annotated[
        float | None,
        typer.Option(
            "--max-regression",
            min=0.0,
            max=1.0,
            help="Largest allowed accuracy loss vs the baseline.",
        ),
    ] = None,
    floor: Annotated[
        list[str] | None,
        typer.Option(
            "--min",
            metavar="NAME=VALUE",
            help="Floor on any metric of the task (e.g. r2=0.8, f1=0.7); repeatable.",
        ),
    ] = None,
    ceiling: Annotated[
        list[str] | None,
        typer.Option(
            "--max",
            metavar="NAME=VALUE",
            help="Ceiling on any metric of the task (e.g. rmse=3.5, log_loss=0.4); repeatable.",
        ),
    ] = None,
    rule: RuleOption = None,
    config: Annotated[
        Path, typer.Option("-c", "--config", help="Use this config's gates when no flag is given.")
    ] = Path("mlgate.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Judge a comparison (or a run's metrics) file against thresholds. Exit 0 passed, 1 failed."""
    from mlgate.project import Project
    from mlgate.road.gate import gate_comparison_file

    floors, ceilings = _bounds("--min", floor), _bounds("--max", ceiling)
    flags = min_accuracy is not None or max_regression is not None or bool(floors or ceilings)
    # The flags' thresholds need no config: one that is there is not even read.
    project = Project.open(None if flags else config, required=False)
    result = gate_comparison_file(
        project,
        comparison_file,
        min_accuracy=min_accuracy,
        max_regression=max_regression,
        rule=rule,
        floors=floors,
        ceilings=ceilings,
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        for check in result.checks:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            out.print(f"{mark} {escape(check.reason)}")
        if not result.checks:
            out.print("no thresholds given: nothing to fail (pass --min/--max NAME=VALUE)")
        out.print("[green]PASSED[/]" if result.passed else "[red]FAILED[/]")
    raise typer.Exit(PASSED if result.passed else FAILED)


def _bounds(option: str, given: list[str] | None) -> dict[str, float]:
    """NAME=VALUE pairs as a mapping, or a usage error naming the one that is not."""
    bounds: dict[str, float] = {}
    for pair in given or []:
        name, sep, text = pair.partition("=")
        try:
            number = float(text) if sep and name.strip() else None
        except ValueError:
            number = None
        if number is None:
            raise typer.BadParameter(
                f"{pair!r} is not NAME=VALUE with a number (e.g. r2=0.8).", param_hint=option
            )
        bounds[name.strip()] = number
    return bounds


def register(app: typer.Typer) -> None:
    """Add `mlgate compare` and `mlgate gate` to the root app."""
    app.command("compare")(compare)
    app.command("gate")(gate)
