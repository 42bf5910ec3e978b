"""Pipeline configuration: the models of `mlgate.yaml` and how it is read.

`models` holds the pipeline's sections, `monitor` and `rollout` their own two;
`loader` reads the YAML with `${VAR}` interpolation, and `problems` makes
pydantic's errors into ones that name the file and field. Runtime settings
(`settings`) and injected faults (`faults`) are imported from their own modules:
importing this package leaves pydantic-settings unloaded.
"""

from mlgate.config._base import parse_duration
from mlgate.config.loader import config_hash, interpolate_env, load_config, read_yaml
from mlgate.config.models import (
    DataConfig,
    EvaluationConfig,
    GatesConfig,
    ModelConfig,
    PipelineConfig,
    SplitConfig,
)
from mlgate.config.monitor import DriftConfig, MonitorConfig, RetrainConfig
from mlgate.config.rollout import AnalysisConfig, RolloutConfig

__all__ = [
    "AnalysisConfig",
    "DataConfig",
    "DriftConfig",
    "EvaluationConfig",
    "GatesConfig",
    "ModelConfig",
    "MonitorConfig",
    "PipelineConfig",
    "RetrainConfig",
    "RolloutConfig",
    "SplitConfig",
    "config_hash",
    "interpolate_env",
    "load_config",
    "parse_duration",
    "read_yaml",
]
