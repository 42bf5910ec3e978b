"""The monitoring cycle: live traffic against the champion's profile; retrain when asked.

One cycle reads the rows the champion served in the window and their feedback
from the logs, tests drift against the champion's reference profile, measures
live accuracy, and decides healthy, drift or degraded (`mlgate.monitor.verdict`,
into a `mlgate.monitor.result.CycleResult`). When the verdict calls
for it, it retrains through the same road (validate, train, evaluate, gate
against the champion, register) on the retraining set (`mlgate.monitor.retrain`),
held to the retrain gate (`mlgate.monitor.retrain_gate`): the new version can
only become a challenger, never the champion, and with `monitor.deploy` a
rollout starts. Each cycle is an event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlgate.drift.profile import PROFILE, Profile
from mlgate.errors import DataError, MlgateError, RegistryError
from mlgate.monitor.result import CycleResult
from mlgate.monitor.traffic import recent_traffic
from mlgate.monitor.verdict import estimate, judge, live_accuracy, live_error
from mlgate.registry.bundle import CARD_FILE, ModelCard
from mlgate.registry.versions import CHAMPION, VersionInfo
from mlgate.state.rollout import record_event

if TYPE_CHECKING:
    from mlgate.config.models import PipelineConfig
    from mlgate.project import Project
    from mlgate.results import RunResult
    from mlgate.road.run import Judge

__all__ = ["run_cycle"]

log = logging.getLogger(__name__)


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
    labelled, accuracy = live_accuracy(traffic, task)
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
    error = live_error(traffic) if task == "regression" else None
    if error is not None and labelled >= monitor.min_labels:
        result.live_mae, result.live_rmse = error
    if len(traffic) < monitor.min_samples:
        result.status = "insufficient"
        result.reasons.append(
            f"{len(traffic)} served row(s) in the window; a verdict needs {monitor.min_samples}"
        )
        return _finish(project, result)
    estimate(card, traffic, result, monitor.min_labels)
    live = None
    if project.config.data.engine == "spark":  # the window profiled where the log is read
        from mlgate.monitor.traffic import window_profile

        live = window_profile(project, since, champion.version, profile)
    judge(monitor, profile, traffic, result, live)
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
