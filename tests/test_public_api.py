"""The package's public surface: `__all__` lists what exists, and the CLI starts light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import mlgate

PACKAGES = [
    "mlgate",
    "mlgate.config",
    "mlgate.data",
    "mlgate.drift",
    "mlgate.evaluation",
    "mlgate.gates",
    "mlgate.monitor",
    "mlgate.registry",
    "mlgate.reporting",
    "mlgate.road",
    "mlgate.rollout",
    "mlgate.scaffold",
    "mlgate.scoring",
    "mlgate.serving",
    "mlgate.state",
    "mlgate.stats",
    "mlgate.training",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(exported) == sorted(set(exported))
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ lists {member}, which is not there"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_classes_and_functions_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    own = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", "").startswith("mlgate")
        and callable(value)
    }
    assert own <= set(module.__all__)


def test_top_level_exports_the_road() -> None:
    for member in ("load_config", "run", "validate", "infer_schema", "MlgateError"):
        assert member in mlgate.__all__


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_cli_help_imports_no_heavy_library(argv: list[str]) -> None:
    script = (
        "import sys\n"
        f"sys.argv = ['mlgate', *{argv!r}]\n"
        "from mlgate.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('sklearn', 'pandas', 'polars', 'pyarrow', 'mlflow', 'fastapi', 'pandera',"
        " 'xgboost', 'lightgbm', 'onnxmltools')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_starting_the_cli_leaves_the_road_unloaded() -> None:
    # `mlgate validate` pays for every import at start: the registry's SQLAlchemy and
    # the statistics' numpy belong to `mlgate run`, not to it.
    script = (
        "import sys\nimport mlgate.cli\n"
        "print(sorted(m for m in ('numpy', 'sqlalchemy', 'mlgate.pipeline') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["mlgate", "mlgate.monitor", "mlgate.state"])
def test_lazy_names_are_the_names_type_checkers_see(name: str) -> None:
    # Type checkers cannot follow `__getattr__`: they read the names from imports that
    # run only for them, which must name what the package loads, no more and no less.
    module = importlib.import_module(name)
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    checked = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for statement in node.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }
    assert checked == set(module._LAZY)
