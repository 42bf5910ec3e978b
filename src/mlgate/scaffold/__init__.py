"""Scaffolding for a new project: what `mlgate init` writes.

`project` lays out the project folder; `example` generates the credit-risk
example data and its config; `workflows` renders the GitHub Actions workflows.
"""

from mlgate.scaffold.example import EXAMPLE_CONFIG, credit_data, write_example
from mlgate.scaffold.project import EXAMPLES, init_project
from mlgate.scaffold.workflows import WORKFLOWS, render_workflows, write_workflows

__all__ = [
    "EXAMPLES",
    "EXAMPLE_CONFIG",
    "WORKFLOWS",
    "credit_data",
    "init_project",
    "render_workflows",
    "write_example",
    "write_workflows",
]
