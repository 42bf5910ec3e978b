"""The gateway: serves registered models through the rollout strategies."""

from mlgate.serving.gateway import Gateway, Routing, Served
from mlgate.serving.inputs import Batch, InputError
from mlgate.serving.runtime import Prediction, ServedModel
from mlgate.serving.server import build_gateway, run_server

__all__ = [
    "Batch",
    "Gateway",
    "InputError",
    "Prediction",
    "Routing",
    "Served",
    "ServedModel",
    "build_gateway",
    "run_server",
]
