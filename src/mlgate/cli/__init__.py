"""The `mlgate` command: the only place that prints."""

from mlgate.cli.app import app, main

__all__ = ["app", "main"]
