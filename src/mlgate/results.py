"""What one trip down the road produced: the run's result and where it was registered.

Kept apart from the road itself so that reports and faces can read results
without importing the code that makes them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mlgate.data.validate import ValidationReport
from mlgate.evaluation.evaluate import EvaluationResult
from mlgate.gates.absolute import GateResult
from mlgate.gates.compare import Comparison
from mlgate.lineage import Lineage
from mlgate.registry.artifacts import ArtifactInfo
from mlgate.registry.onnx import OnnxExport
from mlgate.training.task import Task
from mlgate.training.train import CrossValidation

__all__ = ["Registration", "RunResult"]


class Registration(BaseModel):
    """Where a run landed in the registry."""

    name: str
    version: str
    uri: str
    alias: str | None
    registry: str


class RunResult(BaseModel):
    """Everything one trip down the road produced, and its verdict."""

    name: str
    run_id: str
    output_dir: str
    passed: bool
    stage: Literal["validate", "gate", "done"] = Field(
        description="Where the road stopped: 'validate' or 'gate' on failure, else 'done'."
    )
    reasons: list[str] = Field(default_factory=list, description="Why it did not pass.")
    task: Task | None = None
    target: str
    features: list[str] = Field(default_factory=list)
    validation: dict[str, ValidationReport]
    cross_validation: list[CrossValidation] = Field(default_factory=list)
    metrics: dict[str, float | None] = Field(default_factory=dict)
    evaluation: EvaluationResult | None = None
    gates: GateResult | None = None
    training_time_s: float | None = None
    model: ArtifactInfo | None = None
    onnx: OnnxExport | None = Field(
        None,
        description="The ONNX export: kept or why not, the rows on which it differs from "
        "the model, and one-row answer times with and without it.",
    )
    warnings: list[str] = Field(
        default_factory=list, description="Warnings raised while fitting and scoring, once each."
    )
    dropped_rows: dict[str, int] = Field(
        default_factory=dict,
        description="Rows left out because their target is missing, by part (train, test): "
        "data.drop_missing_target.",
    )
    lineage: Lineage
    files: dict[str, str] = Field(default_factory=dict, description="What was written, by role.")
    comparison: Comparison | None = Field(
        None, description="The candidate against the champion, when there is one."
    )
    registration: Registration | None = Field(
        None, description="Where the version landed in the registry, when registered."
    )
