"""The monitoring cycle: live traffic against the champion's profile; retrain when asked.

One cycle reads the rows the champion served in the window and their feedback
from the logs, tests drift against the champion's reference profile, measures
live accuracy, and decides healthy, drift or degraded. When the verdict calls
for it, it retrains through the same road (validate, train, evaluate, gate
against the champion, register) on the retraining set (`mlgate.monitor.retrain`),
held to the retrain gate (`mlgate.monitor.retrain_gate`): the new version can
only become a challenger, never the champion, and with `monitor.deploy` a
rollout starts. Each cycle is an event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from mlgate.config.monitor import RetrainGate
from mlgate.drift.detector import (
    DriftReport,
    compare_column,
    detect,
    detect_profiles,
    sample_values,
)
from mlgate.drift.profile import PROFILE, Profile, column_profile, distributions, sample_of
from mlgate.errors import DataError, MlgateError, RegistryError
from mlgate.monitor.traffic import recent_traffic
from mlgate.registry.bundle import CARD_FILE, ModelCard
from mlgate.registry.versions import CHAMPION, VersionInfo
from mlgate.state.rollout import record_event
from mlgate.stats.estimate import (
    AccuracyEstimate,
    BinaryEstimate,
    estimate_accuracy,
    estimate_binary,
)
from mlgate.stats.loss import ErrorEstimate, estimate_error

if TYPE_CHECKING:
    from mlgate.config.models import PipelineConfig
    from mlgate.config.monitor import MonitorConfig
    from mlgate.project import Project
    from mlgate.results import RunResult
    from mlgate.road.run import Judge

__all__ = ["CycleResult", "recent_traffic", "run_cycle"]

log = logging.getLogger(__name__)

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


def _live_accuracy(traffic: Any, task: str) -> tuple[int, float | None]:
    if traffic.empty or "label" not in traffic:
        return 0, None
    labelled = traffic[traffic["label"].notna()]
    if labelled.empty or task != "classification":
        return len(labelled), None
    hits = labelled["prediction"].astype(str) == labelled["label"].astype(str)
    return len(labelled), float(hits.mean())


def _live_error(traffic: Any) -> tuple[float, float] | None:
    """A regressor's MAE and RMSE on the labelled rows; None without any."""
    import numpy as np
    import pandas as pd

    if traffic.empty or "label" not in traffic:
        return None
    labelled = traffic[traffic["label"].notna()]
    truth = pd.to_numeric(labelled["label"], errors="coerce").to_numpy(dtype=float)
    predicted = pd.to_numeric(labelled["prediction"], errors="coerce").to_numpy(dtype=float)
    residual = (truth - predicted)[np.isfinite(truth - predicted)]
    if not len(residual):
        return None
    return float(np.abs(residual).mean()), float(np.sqrt((residual**2).mean()))


def run_cycle(
    project: Project,
    *,
    retrain: bool = True,
    now: datetime | None = None,
    progress: Any = None,
) -> CycleResult:
    """One monitoring cycle for the project's model."""
    monitor = project.config.monitor
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=monitor.window)
    champion, profile, card = _champion(project)
    # Only the champion's own rows: those an earlier version served say nothing of it.
    traffic = recent_traffic(project.log_root, project.name, since, version=champion.version)
    task = str(champion.tags.get("mlgate.task", ""))
    labelled, accuracy = _live_accuracy(traffic, task)
    result = CycleResult(
        model=project.name,
        at=now,
        window_start=since,
        status="healthy",
        reasons=[],
        rows=len(traffic),
        labelled=labelled,
        live_accuracy=accuracy if labelled >= monitor.min_labels else None,
        champion=champion.version,
    )
    error = _live_error(traffic) if task == "regression" else None
    if error is not None and labelled >= monitor.min_labels:
        result.live_mae, result.live_rmse = error
    if len(traffic) < monitor.min_samples:
        result.status = "insufficient"
        result.reasons.append(
            f"{len(traffic)} served row(s) in the window; a verdict needs {monitor.min_samples}"
        )
        return _finish(project, result)
    _estimate(card, traffic, result, monitor.min_labels)
    live = None
    if project.config.data.engine == "spark":  # the window profiled where the log is read
        from mlgate.monitor.traffic import window_profile

        live = window_profile(project, since, champion.version, profile)
    _judge(monitor, profile, traffic, result, live)
    if retrain and result.status in monitor.retrain_on:
        _retrain(project, traffic, result, progress)
    return _finish(project, result)


def _champion(project: Project) -> tuple[VersionInfo, Profile, ModelCard | None]:
    """The champion, its reference profile and its card (None if it cannot be read)."""
    catalog = project.catalog
    champion = catalog.alias(project.name, CHAMPION)
    if champion is None:
        raise RegistryError(
            f"model {project.name!r} has no champion to monitor",
            fix="Run `mlgate run` until a version passes its gates.",
        )
    folder = catalog.local_path(champion)
    profile_path = folder / PROFILE
    if not profile_path.exists():
        raise DataError(
            f"version {champion.version} has no reference profile",
            source=str(folder),
            fix="Retrain it with this mlgate (profiles are saved with every run).",
        )
    try:
        card: ModelCard | None = ModelCard.model_validate_json((folder / CARD_FILE).read_bytes())
    except (OSError, ValueError):
        card = None
    return champion, Profile.load(profile_path), card


def _estimate(card: ModelCard | None, traffic: Any, result: CycleResult, min_labels: int) -> None:
    """The champion's accuracy (or a regressor's error) estimated without labels, and,
    once labels are in, the gap between estimate and realized on the labelled rows."""
    if card is not None and card.task == "regression":
        _estimate_error(card, traffic, result)
        return
    calibration = card.calibration if card is not None else None
    if calibration is None or not calibration.usable:
        result.estimate_note = (
            calibration.note
            if calibration is not None
            else "the champion has no calibration (a regressor, a model without "
            "probabilities, or one registered before mlgate fitted them)"
        )
        return
    result.estimated_accuracy = estimate_accuracy(calibration, traffic["score"].to_numpy())
    classes = card.classes if card is not None else None
    if classes is not None and len(classes) == 2:
        positive = traffic["prediction"].astype(str) == str(classes[1])
        result.estimated_binary = estimate_binary(
            calibration, traffic["score"].to_numpy(), positive.to_numpy()
        )
    if result.live_accuracy is None:
        return
    labelled = traffic[traffic["label"].notna()]
    on_labelled = estimate_accuracy(calibration, labelled["score"].to_numpy())
    if on_labelled is None:
        return
    result.estimate_gap = result.live_accuracy - on_labelled.accuracy
    if not on_labelled.low <= result.live_accuracy <= on_labelled.high:
        result.notes.append(
            f"realized accuracy {result.live_accuracy:.3f} on {result.labelled} labelled rows "
            f"is outside the estimate's interval for them ({on_labelled.low:.3f} to "
            f"{on_labelled.high:.3f}): the relation between features and label may have "
            "changed (concept drift), which an estimate from the model's confidence cannot see"
        )


def _estimate_error(card: ModelCard, traffic: Any, result: CycleResult) -> None:
    """A regressor's MAE and RMSE estimated from its loss model; with labels, the gap."""
    import pandas as pd

    loss = card.loss_model
    if loss is None or not loss.usable:
        result.estimate_note = (
            loss.note
            if loss is not None
            else "the champion has no loss model (one registered before mlgate fitted them)"
        )
        return
    predicted = pd.to_numeric(traffic["prediction"], errors="coerce").to_numpy(dtype=float)
    result.estimated_error = estimate_error(loss, traffic, predicted)
    if result.live_mae is None:
        return
    labelled = traffic[traffic["label"].notna()]
    on_labelled = estimate_error(
        loss, labelled, pd.to_numeric(labelled["prediction"], errors="coerce").to_numpy(float)
    )
    if on_labelled is None:
        return
    result.error_gap = result.live_mae - on_labelled.mae
    if not on_labelled.mae_low <= result.live_mae <= on_labelled.mae_high:
        result.notes.append(
            f"realized MAE {result.live_mae:.4g} on {result.labelled} labelled rows is outside "
            f"the estimate's interval for them ({on_labelled.mae_low:.4g} to "
            f"{on_labelled.mae_high:.4g}): the relation between features and label may have "
            "changed (concept drift), which an estimate from the loss model cannot see"
        )


def _judge(
    monitor: MonitorConfig, profile: Profile, traffic: Any, result: CycleResult, live: Any
) -> None:
    """Drift against the profile and live accuracy against the floor: the cycle's verdict.

    `live` is the window's Profile when Spark profiled it, else None (from `traffic`)."""
    features = [c for c in profile.columns if c in (live or traffic).columns]
    kinds: dict[str, str] = {c: profile.columns[c].kind for c in features}
    if live is not None:
        report = detect_profiles(profile, live, config=monitor.drift, kinds=kinds)
    else:
        report = detect(profile, traffic[features], config=monitor.drift, kinds=kinds)
    if profile.prediction is not None:
        kind = profile.prediction.kind
        report.prediction = compare_column(
            "prediction",
            kind,
            sample_of(profile.prediction),
            sample_values(traffic["prediction"].to_numpy(), kind)
            if live is None
            else sample_of(live.prediction),
            monitor.drift,
        )
    result.drift = report
    result.distributions = {
        c.column: distributions(
            profile.columns[c.column],
            column_profile(traffic[c.column], c.kind) if live is None else live.columns[c.column],
        )
        for c in report.drifted
    }
    if report.dataset_drift:
        result.status = "drift"
        result.reasons.append(
            f"{len(report.drifted)} of {len(report.columns)} features drifted "
            f"({', '.join(c.column for c in report.drifted)})"
        )
    floor = monitor.accuracy_floor
    if floor is not None and result.live_accuracy is not None and result.live_accuracy < floor:
        result.status = "degraded"
        result.reasons.append(
            f"live accuracy {result.live_accuracy:.3f} on {result.labelled} labelled rows is "
            f"below the floor {floor:g}"
        )
    estimate = result.estimated_accuracy
    if floor is not None and result.live_accuracy is None and estimate and estimate.high < floor:
        # Before labels: the estimate's whole interval below the floor is a finding.
        result.status = "degraded"
        result.reasons.append(
            f"estimated accuracy {estimate.accuracy:.3f} (95% interval {estimate.low:.3f} to "
            f"{estimate.high:.3f}) on {estimate.rows} rows without enough labels is below the "
            f"floor {floor:g}"
        )
    _judge_error(monitor, result)
    if not result.reasons:
        result.reasons.append(
            f"{len(report.drifted)} of {len(report.columns)} features drifted; below the "
            f"{report.threshold:.0%} line"
        )


def _judge_error(monitor: MonitorConfig, result: CycleResult) -> None:
    """A regressor's live MAE, or before labels its estimate, against the ceiling."""
    ceiling, estimate = monitor.error_ceiling, result.estimated_error
    if ceiling is None:
        return
    if result.live_mae is not None and result.live_mae > ceiling:
        result.status = "degraded"
        result.reasons.append(
            f"live MAE {result.live_mae:.4g} on {result.labelled} labelled rows is above the "
            f"ceiling {ceiling:g}"
        )
    elif result.live_mae is None and estimate is not None and estimate.mae_low > ceiling:
        result.status = "degraded"
        result.reasons.append(
            f"estimated MAE {estimate.mae:.4g} (95% interval {estimate.mae_low:.4g} to "
            f"{estimate.mae_high:.4g}) on {estimate.rows} rows without enough labels is above "
            f"the ceiling {ceiling:g}"
        )


def _retrain(project: Project, traffic: Any, result: CycleResult, progress: Any) -> None:
    """Retrain on the configured data and labelled traffic, through the same road and the
    configured retrain gate: the new version can only become challenger, and with
    `monitor.deploy` its rollout starts."""
    from mlgate.monitor.retrain import retraining_set
    from mlgate.road.run import run

    config, monitor = project.config, project.config.monitor
    result.retrain_gate = monitor.retrain_gate
    try:
        built = retraining_set(config, traffic, result.at, result.notes)
        if built is None:
            result.retrain_stage = "data"
            return
        judge = _judge_for(config, built.recent_test, result)
        recent_test = built.recent_test
        outcome = run(built.config, register=True, progress=progress, project=project, judge=judge)
    except MlgateError as e:
        result.retrain_stage = "error"
        result.notes.append(f"the retraining could not run: {e}")
        return
    result.retrained = True
    result.retrain_passed = outcome.passed
    result.retrain_stage = outcome.stage
    result.retrain_reasons = list(outcome.reasons)
    if outcome.registration is not None:
        result.retrain_version = outcome.registration.version
        result.retrain_alias = outcome.registration.alias
    if not outcome.passed:
        result.notes.append(_why_not(config, outcome, result, recent_test))
        return
    if monitor.deploy:
        from mlgate.road.rollouts import deploy

        result.rollout_started = deploy(project, outcome, actor="monitor") is not None


def _judge_for(config: PipelineConfig, recent_test: bool, result: CycleResult) -> Judge | None:
    """The verdict on the comparison with the champion `monitor.retrain_gate` asks for; None
    for the config's gates (floors)."""
    from functools import partial

    from mlgate.monitor.retrain_gate import beat_champion_verdict

    if config.monitor.retrain_gate != "beat_champion":
        return None
    if not recent_test:
        result.retrain_gate = "floors"
        result.notes.append(
            "retrain_gate: beat_champion judges on held-out recent labelled rows, and there "
            "are too few: the retrained model is held to the floors instead"
        )
        return None
    return partial(beat_champion_verdict, gates=config.gates)


def _why_not(
    config: PipelineConfig, outcome: RunResult, result: CycleResult, recent_test: bool
) -> str:
    """Which gate stopped the retrained model, and what the retrain gate allows."""
    from mlgate.monitor.retrain_gate import beat_champion, floor_metrics

    reasons = "; ".join(outcome.reasons)
    if outcome.stage == "validate":
        base = config.schema_file or "the schema inferred from the set"
        return (
            f"the retraining set failed validation, so no version was registered: {reasons} "
            f"(it is checked against {base} restricted to the model's columns, without the "
            f"duplicate-row rule: {outcome.files.get('schema', 'schema.yaml')})"
        )
    failed = outcome.gates.failures if outcome.gates else []
    floors = [c for c in failed if c.kind in ("min", "max")]
    said = (
        f"the retrained model, version {result.retrain_version}, did not pass its gates "
        f"(monitor.retrain_gate: {result.retrain_gate}): {reasons}"
    )
    if result.retrain_gate == "beat_champion":
        metrics = ", ".join(floor_metrics(config.gates, outcome.task or ""))
        return (
            f"{said}. beat_champion lets a retrained model through that beats the champion "
            f"on the held-out recent labelled rows on {metrics}, in place of the floors; "
            "the regression gates still hold"
        )
    if not floors:
        return said
    hint = ""
    if outcome.comparison is not None and recent_test:
        checks = beat_champion(outcome.comparison, config.gates)
        verdict = "would pass" if all(c.passed for c in checks) else "would not pass either"
        hint = f"; here it {verdict}: " + "; ".join(c.reason for c in checks)
    return (
        f"{said}. The floors policy holds a retrained model to gates.min and gates.max as "
        "any run; with monitor.retrain_gate: beat_champion it would need to beat the "
        f"champion on the held-out recent labelled rows instead{hint}"
    )


def _finish(project: Project, result: CycleResult) -> CycleResult:
    figures = result.model_dump(mode="json", exclude={"drift"})
    if result.drift is not None:
        figures["drifted"] = [c.column for c in result.drift.drifted]
        figures["share"] = result.drift.share
        # Each column's test, as figures: the unseen categories are counted, not named.
        figures["columns"] = [
            c.model_dump(mode="json", exclude={"unseen"}) | {"unseen": len(c.unseen)}
            for c in result.drift.columns
        ]
    record_event(
        project.state,
        result.model,
        kind="monitor",
        strategy="none",
        weight=0.0,
        message=f"{result.status}: {'; '.join(result.reasons)}",
        figures=figures,
        actor="monitor",
    )
    if result.status in ("drift", "degraded") or result.retrain_stage is not None:
        project.notifier.notify(
            f"monitor_{result.status}",
            f"mlgate {result.model}: {result.status}: {'; '.join(result.reasons)}"
            + _retrained(result),
            model=result.model,
            status=result.status,
            live_accuracy=result.live_accuracy,
        )
    return result


def _retrained(result: CycleResult) -> str:
    """What the retraining came to, for the notification."""
    if result.retrain_version is not None:
        passed = "passed its gates" if result.retrain_passed else "did not pass its gates"
        return f" (retrained: version {result.retrain_version} {passed})"
    if result.retrain_stage is not None:
        return " (retraining registered no version: " + "; ".join(result.notes[-1:]) + ")"
    return ""
