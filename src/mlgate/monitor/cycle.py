"""The monitoring cycle: live traffic against the champion's profile; retrain when asked.

One cycle reads the window's served rows and feedback from the logs, tests
drift against the champion's reference profile, measures live accuracy, and
decides healthy, drift or degraded. When the verdict calls for it, it retrains
through the same road (validate, train, evaluate, gate against the champion,
register): the new version can only become a challenger, never the champion,
and with `monitor.deploy` a rollout starts. Each cycle is an event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from mlgate.drift.detector import DriftReport, compare_column, detect, sample_values
from mlgate.drift.profile import PROFILE, Profile, sample_of
from mlgate.errors import DataError, RegistryError
from mlgate.registry.versions import CHAMPION, VersionInfo
from mlgate.state.predlog import query_logs
from mlgate.state.rollout import record_event

if TYPE_CHECKING:
    from mlgate.config.models import PipelineConfig
    from mlgate.config.monitor import MonitorConfig
    from mlgate.project import Project

__all__ = ["CycleResult", "recent_traffic", "run_cycle"]

log = logging.getLogger(__name__)

Status = Literal["healthy", "drift", "degraded", "insufficient"]

_TRAFFIC = """
SELECT p.request_id, p.row, p.prediction, p.time, f.label, unnest(p.features)
FROM predictions AS p
LEFT JOIN (
    SELECT request_id, row, arg_min(label, time) AS label FROM feedback
    WHERE model = $model GROUP BY request_id, row
) AS f USING (request_id, row)
WHERE p.model = $model AND p.time >= $since AND p.served AND p.role IN ('champion', 'challenger')
"""


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
    drift: DriftReport | None = None
    retrained: bool = False
    retrain_passed: bool | None = None
    retrain_version: str | None = None
    retrain_alias: str | None = None
    rollout_started: bool = False
    notes: list[str] = Field(default_factory=list)


def recent_traffic(log_root: str, model: str, since: datetime) -> Any:
    """The served rows since `since`: features, prediction and the first label sent for
    each (or NaN); a later label for a row is ignored, as the rollout analysis does."""
    return query_logs(log_root, _TRAFFIC, {"model": model, "since": since}, as_frame=True)


def _live_accuracy(traffic: Any, task: str) -> tuple[int, float | None]:
    if traffic.empty or "label" not in traffic:
        return 0, None
    labelled = traffic[traffic["label"].notna()]
    if labelled.empty or task != "classification":
        return len(labelled), None
    hits = labelled["prediction"].astype(str) == labelled["label"].astype(str)
    return len(labelled), float(hits.mean())


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
    champion, profile = _champion(project)
    traffic = recent_traffic(project.log_root, project.name, since)
    labelled, accuracy = _live_accuracy(traffic, str(champion.tags.get("mlgate.task", "")))
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
    if len(traffic) < monitor.min_samples:
        result.status = "insufficient"
        result.reasons.append(
            f"{len(traffic)} served row(s) in the window; a verdict needs {monitor.min_samples}"
        )
        return _finish(project, result)
    _judge(monitor, profile, traffic, result)
    if retrain and result.status in monitor.retrain_on:
        _retrain(project, traffic, result, progress)
    return _finish(project, result)


def _champion(project: Project) -> tuple[VersionInfo, Profile]:
    """The champion and its reference profile."""
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
    return champion, Profile.load(profile_path)


def _judge(monitor: MonitorConfig, profile: Profile, traffic: Any, result: CycleResult) -> None:
    """Drift against the profile and live accuracy against the floor: the cycle's verdict."""
    features = [c for c in profile.columns if c in traffic.columns]
    kinds: dict[str, str] = {c: profile.columns[c].kind for c in features}
    report = detect(profile, traffic[features], config=monitor.drift, kinds=kinds)
    if profile.prediction is not None:
        kind = profile.prediction.kind
        report.prediction = compare_column(
            "prediction",
            kind,
            sample_of(profile.prediction),
            sample_values(traffic["prediction"].to_numpy(), kind),
            monitor.drift,
        )
    result.drift = report
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
    if not result.reasons:
        result.reasons.append(
            f"{len(report.drifted)} of {len(report.columns)} features drifted; below the "
            f"{report.threshold:.0%} line"
        )


def _retrain(project: Project, traffic: Any, result: CycleResult, progress: Any) -> None:
    """Retrain on the configured data and labelled traffic, through the same road: the new
    version can only become challenger, and with `monitor.deploy` its rollout starts."""
    from mlgate.road.run import run

    retrain_config = _retraining_config(project, traffic, result)
    if retrain_config is None:
        return
    outcome = run(retrain_config, register=True, progress=progress, project=project)
    result.retrained = True
    result.retrain_passed = outcome.passed
    if outcome.registration is not None:
        result.retrain_version = outcome.registration.version
        result.retrain_alias = outcome.registration.alias
    if not outcome.passed:
        result.notes.append(
            "the retrained model did not pass its gates: " + "; ".join(outcome.reasons)
        )
        return
    if project.config.monitor.deploy:
        from mlgate.road.rollouts import deploy

        result.rollout_started = deploy(project, outcome, actor="monitor") is not None


def _retraining_config(
    project: Project, traffic: Any, result: CycleResult
) -> PipelineConfig | None:
    """The config with its data replaced by the retraining set (written under
    .mlgate/retrain/), or None when there is nothing to retrain on."""
    import pandas as pd

    from mlgate.data.io import read_pandas

    config = project.config
    retrain = config.monitor.retrain
    configured = read_pandas(config.resolve(config.data.train))
    target = config.data.target
    recent = traffic[traffic["label"].notna()].sort_values("time", ascending=False)
    if retrain.max_recent_rows:
        recent = recent.head(retrain.max_recent_rows)
    rows = recent[[c for c in configured.columns if c in recent.columns and c != target]].copy()
    rows[target] = _as_target(recent["label"], configured[target])
    rows = rows.reset_index(drop=True)
    test = None
    if retrain.evaluate_on == "recent" and len(rows) >= 20:
        holdout = rows.sample(frac=config.data.holdout.test_size, random_state=config.seed)
        test, rows = holdout, rows.drop(holdout.index)
    frames = ([configured] if retrain.include_configured else []) + (
        [rows] if retrain.include_recent else []
    )
    if not frames or sum(len(f) for f in frames) == 0:
        result.notes.append("nothing to retrain on: no configured data and no labelled traffic")
        return None
    combined: Any = pd.concat(frames, ignore_index=True)
    result.notes.append(
        f"retraining on {len(combined)} rows ("
        + (f"{len(configured)} configured, " if retrain.include_configured else "")
        + f"{len(rows) if retrain.include_recent else 0} recent labelled)"
        + (f"; testing on {len(test)} held-out recent rows" if test is not None else "")
    )
    folder = config.base_dir / ".mlgate" / "retrain" / result.at.strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    combined.to_parquet(folder / "train.parquet", index=False)
    update: dict[str, Any] = {"train": str(folder / "train.parquet")}
    if test is not None:
        test.to_parquet(folder / "test.parquet", index=False)
        update |= {"test": str(folder / "test.parquet"), "split": None}
    elif config.data.test is not None:
        update["test"] = config.resolve(config.data.test)
    retrain_config = config.model_copy(update={"data": config.data.model_copy(update=update)})
    retrain_config._source = config.source
    return retrain_config


def _as_target(labels: Any, target: Any) -> Any:
    """Feedback labels (logged as text) in the training target's type."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(target):
        return labels.astype(str).str.lower().isin(["true", "1"])
    if pd.api.types.is_numeric_dtype(target):
        numbers = pd.to_numeric(labels, errors="coerce")
        return numbers.astype(target.dtype) if numbers.notna().all() else numbers
    return labels.astype(str)


def _finish(project: Project, result: CycleResult) -> CycleResult:
    figures = result.model_dump(mode="json", exclude={"drift"})
    if result.drift is not None:
        figures["drifted"] = [c.column for c in result.drift.drifted]
        figures["share"] = result.drift.share
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
    if result.status in ("drift", "degraded") or result.retrained:
        project.notifier.notify(
            f"monitor_{result.status}",
            f"mlgate {result.model}: {result.status}: {'; '.join(result.reasons)}"
            + (f" (retrained: version {result.retrain_version})" if result.retrained else ""),
            model=result.model,
            status=result.status,
            live_accuracy=result.live_accuracy,
        )
    return result
