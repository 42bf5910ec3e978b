"""`mlgate smoke`: a deployed gateway answers the project's own rows, or the job fails."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlgate.cli.output import FAILED, PASSED, friendly, out, print_json


@friendly
def smoke(
    url: Annotated[str, typer.Argument(help="The gateway's address, e.g. http://127.0.0.1:8000.")],
    config: Annotated[
        Path, typer.Option("-c", "--config", help="The project whose rows are sent.")
    ] = Path("mlgate.yaml"),
    rows: Annotated[
        int, typer.Option("--rows", min=1, max=1000, help="Rows to send, one request each.")
    ] = 20,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each answer.")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Send a few rows of the project's test data to a running gateway: ready, and every row
    answered with one prediction. Exit 0 passed, 1 any failure (for a deploy job's last step).
    """
    from mlgate.config.loader import load_config
    from mlgate.road.smoke import smoke as send

    result = send(load_config(config), url, rows=rows, timeout=timeout)
    if as_json:
        print_json(result.model_dump(mode="json") | {"passed": result.passed})
    else:
        versions = ", ".join(f"version {v}: {n}" for v, n in sorted(result.versions.items()))
        timing = (
            f"; p50 {result.p50_ms:.1f} ms, slowest {result.max_ms:.1f} ms"
            if result.p50_ms is not None and result.max_ms is not None
            else ""
        )
        out.print(
            f"{escape(result.url)}: {'ready' if result.ready else 'NOT ready'}; "
            f"{result.answered} of {result.rows} row(s) answered"
            + (f" ({escape(versions)})" if versions else "")
            + timing
        )
        for failure in result.failures[:10]:
            out.print(f"[red]✗[/] {escape(failure)}")
        if len(result.failures) > 10:
            out.print(f"… and {len(result.failures) - 10} more")
        out.print("[green]PASSED[/]" if result.passed else "[red]FAILED[/]")
    raise typer.Exit(PASSED if result.passed else FAILED)


def register(app: typer.Typer) -> None:
    """Add `mlgate smoke` to the root app."""
    app.command("smoke")(smoke)
