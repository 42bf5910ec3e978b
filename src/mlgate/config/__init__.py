"""Pipeline configuration: the models of `mlgate.yaml` and how it is read."""

from mlgate.config.loader import config_hash, interpolate_env, load_config, read_yaml
from mlgate.config.models import (
    DataConfig,
    EvaluationConfig,
    GatesConfig,
    ModelConfig,
    PipelineConfig,
    SplitConfig,
)

__all__ = [
    "DataConfig",
    "EvaluationConfig",
    "GatesConfig",
    "ModelConfig",
    "PipelineConfig",
    "SplitConfig",
    "config_hash",
    "interpolate_env",
    "load_config",
    "read_yaml",
]
