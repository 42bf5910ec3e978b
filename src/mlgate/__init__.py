"""mlgate: continuous delivery for machine-learning models.

The road, one gate at a time: validate the data → train from a config →
evaluate → gate. Heavy libraries load only when a step runs.
"""

from mlgate._version import __version__
from mlgate.config import PipelineConfig, load_config
from mlgate.data import Schema, ValidationReport, infer_schema, load_schema, validate
from mlgate.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    MlgateError,
    SchemaError,
    TrainingError,
)
from mlgate.evaluation import EvaluationResult
from mlgate.gates import GateResult
from mlgate.pipeline import RunResult, run

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "EvaluationResult",
    "GateResult",
    "MlgateError",
    "PipelineConfig",
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
