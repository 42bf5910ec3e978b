"""The package's public surface: `__all__` lists what exists, and the CLI starts light."""

from __future__ import annotations

import importlib
import subprocess
import sys

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
