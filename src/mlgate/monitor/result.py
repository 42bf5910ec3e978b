"""What one monitoring cycle found, judged and did: its figures, verdict and retraining."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlgate.config.monitor import RetrainGate
from mlgate.drift.detector import DriftReport
from mlgate.stats.estimate import AccuracyEstimate, BinaryEstimate
from mlgate.stats.loss import ErrorEstimate

__all__ = ["CycleResult", "Status"]

Status = Literal["healthy", "drift", "degraded", "insufficient"]


class CycleResult(BaseModel):
    """One cycle's figures, verdict and what it did about it."""

    model: str
    at: datetime
    window_start: datetime
    status: Status
    reasons: list[str]
    rows: int
    labelled: int
    live_accuracy: float | None = None
    champion: str | None = None
    estimated_accuracy: AccuracyEstimate | None = Field(
        None,
        description="The champion's accuracy on the window's rows estimated from its "
        "calibrated confidence, before any label (classifiers).",
    )
    estimated_binary: BinaryEstimate | None = Field(
        None,
        description="A binary classifier's F1 (of its second class) and ROC AUC on the "
        "window's rows, estimated from its calibrated confidence before any label.",
    )
    estimate_note: str | None = Field(None, description="Why there is no estimate.")
    estimate_gap: float | None = Field(
        None,
        description="Realized minus estimated accuracy on the labelled rows, once there are "
        "enough of them.",
    )
    live_mae: float | None = Field(None, description="Regressors: MAE on the labelled rows.")
    live_rmse: float | None = Field(None, description="Regressors: RMSE on the labelled rows.")
    estimated_error: ErrorEstimate | None = Field(
        None,
        description="The champion's MAE and RMSE on the window's rows estimated from its loss "
        "model, before any label (regressors).",
    )
    error_gap: float | None = Field(
        None,
        description="Regressors: realized minus estimated MAE on the labelled rows, once "
        "there are enough of them.",
    )
    drift: DriftReport | None = None
    retrained: bool = False
    retrain_passed: bool | None = None
    retrain_version: str | None = None
    retrain_alias: str | None = None
    retrain_gate: RetrainGate | None = Field(
        None, description="The retrain gate the retrained model was held to."
    )
    retrain_stage: Literal["data", "error", "validate", "gate", "done"] | None = Field(
        None,
        description="Where the retraining stopped: data (nothing to train on, or the "
        "configured data fails its schema), error (it could not run), or the run's stage.",
    )
    retrain_reasons: list[str] = Field(
        default_factory=list, description="Why the retrained model did not pass."
    )
    rollout_started: bool = False
    notes: list[str] = Field(default_factory=list)
    distributions: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="The drifted columns' reference and current distributions, to plot "
        "(see mlgate.drift.profile.distributions).",
    )
