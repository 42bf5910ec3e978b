"""mlgate: continuous delivery for machine-learning models.

The road, one gate at a time: validate the data → train from a config →
evaluate → gate → register (`run`). `Project` opens a project's registry, state
store and logs for the acts that follow (`mlgate.road`: promote, roll back,
start a rollout). Heavy libraries load only when a step runs.
"""

from typing import TYPE_CHECKING, Any

from mlgate._version import __version__
from mlgate.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    MlgateError,
    SchemaError,
    TrainingError,
)

if TYPE_CHECKING:
    from mlgate.config import PipelineConfig, load_config
    from mlgate.data import Schema, ValidationReport, infer_schema, load_schema, validate
    from mlgate.evaluation import EvaluationResult
    from mlgate.gates import GateResult
    from mlgate.project import Project
    from mlgate.results import RunResult
    from mlgate.road.run import run

#: Names whose modules load on first use. The road's modules bring numpy, SQLAlchemy
#: and the registry (about 0.7 s), which `mlgate validate` and `mlgate --help` never use.
#: The config and data modules bring pydantic's models (about 20 MB), which the log's
#: converter process, importing only `mlgate.state.convert`, never uses.
_LAZY = {
    "PipelineConfig": "mlgate.config",
    "load_config": "mlgate.config",
    "Schema": "mlgate.data",
    "ValidationReport": "mlgate.data",
    "infer_schema": "mlgate.data",
    "load_schema": "mlgate.data",
    "validate": "mlgate.data",
    "EvaluationResult": "mlgate.evaluation",
    "GateResult": "mlgate.gates",
    "Project": "mlgate.project",
    "RunResult": "mlgate.results",
    "run": "mlgate.road.run",
}

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "EvaluationResult",
    "GateResult",
    "MlgateError",
    "PipelineConfig",
    "Project",
    "RunResult",
    "Schema",
    "SchemaError",
    "TrainingError",
    "ValidationReport",
    "__version__",
    "infer_schema",
    "load_config",
    "load_schema",
    "run",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlgate' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
