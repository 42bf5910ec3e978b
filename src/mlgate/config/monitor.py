"""The `monitor:` section: drift tests, the lines that call for retraining, and the loop."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlgate.config._base import Seconds, Strict

__all__ = ["DriftConfig", "MonitorConfig", "RetrainConfig"]


Verdict = Literal["drift", "degraded"]
RetrainGate = Literal["floors", "beat_champion"]
_VERDICTS: tuple[Verdict, ...] = ("drift", "degraded")


class DriftConfig(Strict):
    """How drift is tested per column and judged for the dataset."""

    share: float = Field(
        0.3, gt=0.0, le=1.0, description="Share of drifted columns that makes the dataset drift."
    )
    alpha: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description="False discovery rate for p-value tests (Benjamini–Hochberg).",
    )
    large_sample: int = Field(
        10_000,
        ge=10,
        description="From this many rows on both sides, effect sizes replace p-value tests.",
    )
    tests: dict[str, str] = Field(
        default_factory=dict, description="Per-column test override, e.g. {income: psi}."
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-column threshold override for effect sizes."
    )
    correction: Literal["bh", "none"] = Field(
        "bh", description="Multiple-testing correction across columns: bh or none."
    )


class RetrainConfig(Strict):
    """What a retraining triggered by the monitor trains on."""

    include_recent: bool = Field(
        True, description="Add the window's labelled traffic to the configured training data."
    )
    include_configured: bool = Field(
        True,
        description="Keep the configured training data (false: learn from recent traffic only, "
        "for when what drives the label has changed).",
    )
    evaluate_on: Literal["recent", "configured"] = Field(
        "recent",
        description="Test set of the retrained model: a hold-out of the recent labelled "
        "traffic (where it will serve), or the configured test data.",
    )
    max_recent_rows: int | None = Field(
        None, ge=1, description="Most recent labelled rows to add (newest first)."
    )


class MonitorConfig(Strict):
    """The monitoring cycle: window, thresholds, retraining and deployment."""

    window: Seconds = Field(86_400.0, description="How far back each cycle looks, e.g. 1h or 1d.")
    every: Seconds = Field(3_600.0, description="Time between cycles with --every unset.")
    min_samples: int = Field(
        500, ge=1, description="No verdict on fewer served rows in the window than this."
    )
    accuracy_floor: float | None = Field(
        None, ge=0.0, le=1.0, description="Live accuracy below this is 'degraded'."
    )
    error_ceiling: float | None = Field(
        None,
        ge=0.0,
        description="Regressors: live MAE above this is 'degraded', and so, before enough "
        "labels, is an estimated MAE whose interval lies wholly above it.",
    )
    min_labels: int = Field(100, ge=1, description="Fewest labelled rows for live accuracy.")
    drift: DriftConfig = Field(default_factory=DriftConfig)
    retrain_on: list[Verdict] = Field(
        default_factory=lambda: list(_VERDICTS),
        description="Which verdicts trigger retraining ([] to only report).",
    )
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    retrain_gate: RetrainGate = Field(
        "floors",
        description="What a retrained model must meet besides the regression gates: floors "
        "(gates.min and gates.max, as any run) or beat_champion (in their place, be better "
        "than the champion on the held-out recent labelled rows on each of their metrics, "
        "judged by gates.rule), for drift that lowers every model's accuracy.",
    )
    deploy: bool = Field(False, description="Start a rollout when the retrained model passes.")

    @model_validator(mode="after")
    def _beat_on_recent(self) -> MonitorConfig:
        if self.retrain_gate == "beat_champion" and self.retrain.evaluate_on != "recent":
            raise ValueError(
                "retrain_gate: beat_champion compares with the champion on held-out recent "
                "labelled rows; set retrain.evaluate_on: recent, or use retrain_gate: floors"
            )
        return self
