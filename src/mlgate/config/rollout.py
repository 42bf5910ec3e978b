"""The `rollout:` section: how a challenger reaches users, and when it must leave."""

from __future__ import annotations

import itertools
from typing import Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from mlgate.config._base import OptionalSeconds, Seconds, Strict, parse_duration

__all__ = [
    "LIVE_ACCURACY_FLOOR",
    "PLANS",
    "STRATEGIES",
    "AnalysisConfig",
    "EstimatedUse",
    "MissingLabels",
    "Plan",
    "PreSwitchConfig",
    "RolloutConfig",
    "Strategy",
    "parse_duration",
]

#: How a rollout moves traffic: the strategies a plan may name.
Plan = Literal["blue-green", "canary", "shadow", "ab"]
#: What the gateways apply: a plan's strategy, or "none" (the champion answers all).
Strategy = Literal["none", "blue-green", "canary", "shadow", "ab"]
PLANS: tuple[str, ...] = get_args(Plan)
STRATEGIES: tuple[str, ...] = get_args(Strategy)
#: What a step that needs feedback labels does when they have not come in time.
MissingLabels = Literal["hold", "rollback", "promote"]
#: What the controller does with the versions' performance estimated before labels.
EstimatedUse = Literal["off", "advise", "enforce"]
#: The live accuracy check's minimum when the config does not set one.
LIVE_ACCURACY_FLOOR = -0.02


class AnalysisConfig(Strict):
    """What the controller checks at every interval, on live traffic since the last step."""

    max_error_rate: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="The challenger's error rate, and its excess over the champion's, "
        "may not pass this.",
    )
    max_p99_latency_ratio: float = Field(
        1.5, gt=0.0, description="Challenger p99 latency over champion p99 latency."
    )
    latency_slack_ms: float = Field(
        1.0,
        ge=0.0,
        description="A challenger p99 within this many milliseconds of the champion's "
        "passes whatever the ratio: sub-millisecond jitter is not a regression.",
    )
    min_agreement: float = Field(
        0.90,
        ge=0.0,
        le=1.0,
        description="Share of rows where the challenger predicts what the champion does "
        "(canary and shadow).",
    )
    min_live_accuracy_delta: float | None = Field(
        None,
        description="Challenger live accuracy minus the champion's; a check fails only when "
        "the always-valid interval of the difference (at rollout.alpha) lies wholly below "
        "it. Set, it is required: a canary's last step (with rollout.holdback) and a shadow "
        "are promoted only once it is shown met, as an A/B's margin is (on every labelled "
        "row since the start; a shadow's on the rows both versions answered), and the "
        "deciding step waits for min_labels labelled rows per version (see labels_wait, "
        "on_missing_labels). Unset, labels that arrive are checked against -0.02 and none "
        "are waited for.",
    )
    min_requests: int = Field(
        200, ge=1, description="No verdict on fewer challenger requests than this."
    )
    min_labels: int = Field(
        100, ge=1, description="Fewest labelled rows per version before live accuracy counts."
    )
    labels_wait: OptionalSeconds = Field(
        None,
        description="How long a step that needs live accuracy (min_live_accuracy_delta "
        "set, or an A/B) waits for min_labels labelled rows per version, from the step's "
        "start (default: rollout.duration, 10 intervals unless set).",
    )
    on_missing_labels: MissingLabels = Field(
        "rollback",
        description="What that step does when the labels have not come by labels_wait: "
        "rollback; hold (until they come or a person acts); or promote (go on as if live "
        "accuracy passed: a canary advances, a blue-green switches, a shadow or A/B is "
        "promoted).",
    )
    estimated: EstimatedUse = Field(
        "advise",
        description="Both versions' performance estimated without labels on the traffic "
        "each saw (accuracy from calibrated confidence; a regressor's MAE from its loss "
        "model), compared on the same rows where both answered them: off; advise (shown in "
        "the analysis and its events, not acted on); enforce (as well, a challenger whose "
        "estimated interval lies below the champion's by more than the margin fails a "
        "check, so it is held, then rolled back, before labels exist; once live accuracy is "
        "measured it has the last word).",
    )
    regression_tolerance: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="Regressors: an answer within this share of the champion's agrees with "
        "it, and one within this share of the label is correct (live accuracy), e.g. 0.05 "
        "for 5%; against values near 0 the share is of 1.",
    )


class PreSwitchConfig(Strict):
    """Blue-green's analysis before the switch, on copies of live requests."""

    enabled: bool = Field(
        True,
        description="Before a blue-green switches all traffic, the challenger answers "
        "copies of live requests off the response path (as a shadow does), and the switch "
        "happens only if rollout.analysis's checks pass on them; false switches at once.",
    )
    min_requests: int | None = Field(
        None,
        ge=1,
        description="Mirrored requests the pre-switch analysis needs before it judges "
        "(default: rollout.analysis.min_requests).",
    )
    max_duration: OptionalSeconds = Field(
        None,
        description="The longest the pre-switch analysis waits for them; with too few "
        "by then the rollout is rolled back, never switched (default: 10 intervals).",
    )


class RolloutConfig(Strict):
    """How a challenger is rolled out: strategy, steps, analysis and limits."""

    strategy: Plan = Field("canary", description="blue-green, canary, shadow or ab.")
    steps: list[float] = Field(
        default_factory=lambda: [5.0, 25.0, 50.0, 100.0],
        description="Canary weights in percent, in order; the last must be 100.",
    )
    interval: Seconds = Field(60.0, description="Time between analyses, e.g. 60s or 5m.")
    duration: OptionalSeconds = Field(
        None,
        description="Shadow and ab: the longest the experiment runs before a verdict; a "
        "canary that requires live accuracy: the longest its last step (all traffic but the "
        "holdback) runs before one (default: 10 intervals).",
    )
    sample_size: int | None = Field(
        None,
        ge=1,
        description="Shadow and ab: stop once each version has this many labelled rows.",
    )
    weight: float = Field(
        50.0, gt=0.0, lt=100.0, description="ab: percent of keys sent to the challenger."
    )
    alpha: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="ab: the chance, at most, of promoting a challenger worse than the margin; "
        "canary and shadow with min_live_accuracy_delta set: worse than it; a live accuracy "
        "check: of failing by chance.",
    )
    margin: float = Field(
        0.02,
        ge=0.0,
        description="ab: how much worse (in live accuracy) a challenger may be and still "
        "count as good enough.",
    )
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    holdback: float = Field(
        5.0,
        ge=0.0,
        lt=100.0,
        validate_default=True,
        description="Canary with min_live_accuracy_delta set: percent of routing keys the "
        "champion keeps through the last step, so that both versions keep getting labels "
        "until live accuracy concludes (the same keys on every gateway, by the split's key "
        "hash); 0 gives the challenger all traffic and judges live accuracy before it.",
    )
    pre_switch: PreSwitchConfig = Field(default_factory=PreSwitchConfig)
    failure_limit: int = Field(
        2, ge=1, description="Consecutive failed analyses before the controller rolls back."
    )
    webhook: str | None = Field(
        None,
        description="URL notified (Slack-compatible JSON) of every step; default: "
        "MLGATE_WEBHOOK_URL.",
    )
    lease: OptionalSeconds = Field(
        None,
        description="How long one gateway's controller keeps the right to act without "
        "renewing it; another takes over after that (default: 3 intervals, at least 15s).",
    )

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[float], info: ValidationInfo) -> list[float]:
        if not value:
            raise ValueError("needs at least one weight")
        if any(not 0.0 < w <= 100.0 for w in value):
            raise ValueError("weights must be in (0, 100]")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("weights must increase")
        # Here rather than on the model, so that the error names `rollout.steps`.
        if info.data.get("strategy") == "canary" and value[-1] != 100.0:
            raise ValueError("a canary's last step must be 100 (all traffic)")
        return value

    @field_validator("holdback")
    @classmethod
    def _holdback(cls, value: float, info: ValidationInfo) -> float:
        steps = info.data.get("steps") or []
        analysis = info.data.get("analysis")
        asked = analysis is not None and analysis.min_live_accuracy_delta is not None
        canary = info.data.get("strategy") == "canary" and len(steps) > 1 and asked
        if canary and value > 0.0 and 100.0 - value <= steps[-2]:
            raise ValueError(
                f"leaves the last step at {100.0 - value:g}%, not above the step "
                f"before it ({steps[-2]:g}%); hold back less than {100.0 - steps[-2]:g}"
            )
        return value

    @property
    def max_duration(self) -> float:
        """Seconds a shadow or A/B experiment may run before a verdict is forced."""
        return self.duration if self.duration is not None else 10 * self.interval

    @property
    def pre_switching(self) -> bool:
        """Whether this plan is a blue-green that judges mirrored requests before it
        switches (its step 0; the switch is step 1)."""
        return self.strategy == "blue-green" and self.pre_switch.enabled

    @property
    def pre_switch_requests(self) -> int:
        """Mirrored requests the pre-switch analysis needs."""
        return self.pre_switch.min_requests or self.analysis.min_requests

    @property
    def pre_switch_duration(self) -> float:
        """Seconds the pre-switch analysis may wait for them."""
        return self.pre_switch.max_duration or 10 * self.interval

    @property
    def labels_wait(self) -> float:
        """Seconds a step that needs live accuracy waits for labels."""
        return self.analysis.labels_wait or self.max_duration

    @property
    def needs_labels(self) -> bool:
        """Whether live accuracy is required: an A/B judges by it, and a set
        min_live_accuracy_delta asks for it."""
        return self.strategy == "ab" or self.analysis.min_live_accuracy_delta is not None

    @property
    def holding_back(self) -> bool:
        """Whether a canary's last step keeps `holdback` percent of keys on the champion
        and judges live accuracy there, on every labelled row since the rollout started."""
        return self.strategy == "canary" and self.needs_labels and self.holdback > 0.0

    @property
    def live_accuracy_floor(self) -> float:
        """The live accuracy check's minimum difference."""
        found = self.analysis.min_live_accuracy_delta
        return LIVE_ACCURACY_FLOOR if found is None else found

    @property
    def lease_ttl(self) -> float:
        """Seconds a controller's lease lasts: room for two missed analyses."""
        return self.lease if self.lease is not None else max(3 * self.interval, 15.0)

    def weight_at(self, step: int) -> float:
        """The challenger's share of traffic, in percent, at `step` of this plan."""
        if self.strategy == "canary":
            last = len(self.steps) - 1
            if step >= last and self.holding_back:
                return 100.0 - self.holdback
            return self.steps[min(step, last)]
        if self.strategy == "blue-green":
            return 0.0 if self.pre_switching and step == 0 else 100.0
        if self.strategy == "ab":
            return self.weight
        return 0.0
