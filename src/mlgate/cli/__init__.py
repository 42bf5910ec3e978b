"""The `mlgate` command: the only place that prints.

One module per group of commands; each opens one `mlgate.project.Project`,
calls the road (`mlgate.road`) and renders the result, mapping its verdict to
the exit code (0 passed, 1 a check failed, 2 usage or configuration error).
"""

from mlgate.cli.app import app, main

__all__ = ["app", "main"]
