"""Printing: rich for people, JSON for machines, stderr for errors and progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from mlgate.errors import ConfigError, MlgateError

P = ParamSpec("P")
R = TypeVar("R")

#: Exit codes: the check passed, a check failed, the command could not run.
PASSED, FAILED, USAGE = 0, 1, 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn any MlgateError a command raises into one message on stderr and exit code 2;
    so too a file or folder the command cannot read or write (an OSError)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except MlgateError as e:
            err.print(f"[bold red]error:[/] {escape(str(e))}")
            raise typer.Exit(USAGE) from None
        except OSError as e:
            err.print(f"[bold red]error:[/] {escape(str(_unusable(e)))}")
            raise typer.Exit(USAGE) from None

    return wrapper


def signed(value: float, places: int = 4) -> str:
    """`value` with its sign, never "-0.0000": what rounds to zero is shown as +0."""
    return f"{round(value, places) + 0.0:+.{places}f}"


def print_json(payload: Any) -> None:
    """One JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A status line on stderr that the library updates through a callback."""
    if not enabled or not err.is_terminal:
        yield (
            (lambda message: err.print(f"[dim]… {escape(message)}[/]"))
            if enabled
            else (lambda message: None)
        )
        return
    with err.status("starting") as status:
        yield lambda message: status.update(escape(message))


def _unusable(error: OSError) -> ConfigError:
    """The ConfigError a path the command could not use becomes."""
    problem = error.strerror or type(error).__name__
    return ConfigError(
        f"{problem[:1].lower()}{problem[1:]}.",
        file=error.filename,
        fix="Check that the path is right, that its folder exists, and that you may "
        "read or write there.",
    )
