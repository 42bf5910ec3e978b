"""`mlgate report comment`: a Markdown report as a pull-request comment that updates in place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlgate.cli.output import err, friendly, out, print_json

report_app = typer.Typer(help="Publish reports where the team reads them.", no_args_is_help=True)


@report_app.command("comment")
@friendly
def comment(
    file: Annotated[
        Path, typer.Option("-f", "--file", help="The Markdown report to post, e.g. report.md.")
    ],
    pr: Annotated[
        int | None,
        typer.Option(
            "--pr", min=1, help="Pull request number (default: the GitHub Actions event's)."
        ),
    ] = None,
    label: Annotated[
        str,
        typer.Option("--label", help="Which report this is: one comment per label is kept."),
    ] = "report",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Post a report on a pull request, editing mlgate's earlier comment with the same label.

    Reads what GitHub Actions sets: GITHUB_TOKEN (or GH_TOKEN), GITHUB_REPOSITORY,
    GITHUB_API_URL, and without --pr the pull request in GITHUB_EVENT_PATH. The
    job needs `permissions: pull-requests: write`.
    """
    from mlgate.reporting.github import MAX_COMMENT_CHARS, comment_report

    result = comment_report(file, label=label, pr=pr)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        out.print(
            f"{result.action} comment {result.id} on {escape(result.repository)}#{result.pr}: "
            f"{escape(result.url)}"
        )
    if result.truncated:
        err.print(
            f"[yellow]warning:[/] the report is longer than the {MAX_COMMENT_CHARS:,} characters "
            "a GitHub comment holds; the comment ends where it was cut, with a note"
        )


def register(app: typer.Typer) -> None:
    """Add `mlgate report` to the root app."""
    app.add_typer(report_app, name="report")
