"""mlgate: continuous delivery for machine-learning models.

The road, one gate at a time: validate the data → train from a config →
evaluate → gate. Heavy libraries load only when a step runs.
"""

from mlgate._version import __version__
from mlgate.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    MlgateError,
    SchemaError,
    TrainingError,
)

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "MlgateError",
    "SchemaError",
    "TrainingError",
    "__version__",
]
