"""What the dashboard shows, as plain JSON figures: the rollout, the models, the traffic.

Each function reads what mlgate already keeps (the rollout state and its events
in the state store, the registry's versions and alias history, the prediction
log) and picks the figures out by name: never a data row, a feature value, a
prediction, or a secret (the plan's webhook URL is left out).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlgate.errors import InputError
from mlgate.road.rollouts import rollout_status
from mlgate.state.predlog import query_logs
from mlgate.state.rollout import RolloutEvent, rollout_events
from mlgate.stats.sequential import msprt

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["model_figures", "rollout_figures", "traffic_figures", "version_figures"]

#: Events read for the charts: a rollout's analyses since its start, and the list shown.
_EVENTS, _SHOWN = 1000, 60
#: The traffic view's window and its buckets, in seconds.
_WINDOW, _BUCKET = 15 * 60, 5
#: The thresholds the page draws, as the plan's `analysis` names them.
_THRESHOLDS = (
    "max_error_rate",
    "max_p99_latency_ratio",
    "min_agreement",
    "min_live_accuracy_delta",
)
#: What the page shows of each column's drift test.
_DRIFT_KEYS = (
    "column",
    "kind",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
    "threshold",
    "drifted",
    "reference_rows",
    "current_rows",
    "unseen",
)
#: What the page shows of the plan (its webhook is a secret; its lease, of no interest).
_PLAN_KEYS = ("strategy", "steps", "interval", "failure_limit", "alpha", "margin", "duration")


def rollout_figures(project: Project, serving: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rollout now (versions, strategy, step, weight, plan, next analysis), its events,
    and one chart point per analysis since it started; `serving`: what a gateway serves."""
    status = rollout_status(project)
    state = status["state"]
    plan = state.get("plan") or {}
    config = plan.get("config") or project.config.rollout.model_dump(mode="json")
    events = rollout_events(project.state, project.name, limit=_EVENTS)
    started = max((e.id for e in events if e.kind == "start"), default=0)
    aliases = project.catalog.aliases(project.name)
    return {
        "model": project.name,
        "champion": aliases.get("champion"),
        "challenger": aliases.get("challenger"),
        "serving": _serving(serving),
        "status": state["status"],
        "strategy": state["strategy"],
        "weight": state["weight"],
        "revision": state["revision"],
        "updated_at": state["updated_at"],
        "updated_by": state["updated_by"],
        "note": state["note"],
        "step": plan.get("step"),
        "plan": {key: config.get(key) for key in _PLAN_KEYS},
        "rolling_out": {"champion": plan.get("champion"), "challenger": plan.get("challenger")},
        "thresholds": {key: config.get("analysis", {}).get(key) for key in _THRESHOLDS},
        "next": status["next"],
        "events": [_event(e) for e in events[-_SHOWN:]],
        "points": [
            _point(e, float(config.get("alpha", 0.05)))
            for e in events
            if e.kind == "analysis" and e.id > started and "analysis" in e.figures
        ],
    }


def _serving(served: dict[str, Any] | None) -> dict[str, Any] | None:
    if served is None:
        return None
    keys = ("champion", "challenger", "strategy", "weight", "revision")
    return {key: served.get(key) for key in keys} | {"skipped": "skipped" in served}


def _event(event: RolloutEvent) -> dict[str, Any]:
    verdict = event.figures.get("verdict") or {}
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "strategy": event.strategy,
        "weight": event.weight,
        "step": event.step,
        "message": event.message,
        "actor": event.actor,
        "action": verdict.get("action"),
    }


def _point(event: RolloutEvent, alpha: float) -> dict[str, Any]:
    """One analysis as chart values: [champion, challenger] per figure, the live accuracy
    difference with its always-valid interval when both arms have labels, and both
    versions' performance estimated without labels with its interval, when estimated."""
    analysis, verdict = event.figures["analysis"], event.figures.get("verdict") or {}
    champion, challenger = analysis["champion"], analysis["challenger"]
    ratio = None
    if champion.get("p99_latency_ms") and challenger.get("p99_latency_ms") is not None:
        ratio = challenger["p99_latency_ms"] / champion["p99_latency_ms"]
    delta = None
    if champion.get("labelled") and challenger.get("labelled"):
        result = msprt(
            champion["correct"],
            champion["labelled"],
            challenger["correct"],
            challenger["labelled"],
            alpha=alpha,
        )
        delta = {"difference": result.difference, "low": result.low, "high": result.high}
    return {
        "id": event.id,
        "at": event.at.timestamp(),
        "step": event.step,
        "weight": event.weight,
        "action": verdict.get("action"),
        "failures": verdict.get("failures"),
        "requests": [champion["requests"], challenger["requests"]],
        "errors": [champion["errors"], challenger["errors"]],
        "error_rate": [champion["error_rate"], challenger["error_rate"]],
        "p99_latency_ms": [champion.get("p99_latency_ms"), challenger.get("p99_latency_ms")],
        "p99_latency_ratio": ratio,
        "agreement": analysis.get("agreement"),
        "compared_rows": analysis.get("compared_rows"),
        "labelled": [champion["labelled"], challenger["labelled"]],
        "accuracy": [champion.get("accuracy"), challenger.get("accuracy")],
        "accuracy_delta": delta,
        "estimated": _estimated(analysis.get("estimated")),
    }


def _estimated(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """The estimate as chart values: its metric, and [champion, challenger] per figure; the
    champion's on the challenger's rows when it answered them (the figure compared)."""
    if not found:
        return None
    same = found.get("champion_same_rows")
    sides = (same or found.get("champion"), found.get("challenger"))
    return {
        "metric": found["metric"],
        "same_rows": same is not None,
        **{key: [side and side[key] for side in sides] for key in ("value", "low", "high", "rows")},
    }


def model_figures(project: Project) -> dict[str, Any]:
    """Every version with its gate verdict and metrics, and the aliases' history."""
    catalog, name = project.catalog, project.name
    versions = [
        {
            "version": v.version,
            "created": v.created.isoformat(),
            "passed": v.passed,
            "reasons": v.reasons,
            "aliases": v.aliases,
            "metrics": v.metrics,
        }
        for v in catalog.versions(name)
    ]
    history = [
        {
            "at": e.at.isoformat(),
            "alias": e.alias,
            "from": e.from_version,
            "to": e.to_version,
            "action": e.action,
            "actor": e.actor,
            "reason": e.reason,
        }
        for e in catalog.history(name)
    ]
    return {"model": name, "versions": versions, "history": history}


#: What the page shows of a comparison's metric and of a gate check.
_METRIC_KEYS = (
    "metric",
    "baseline",
    "candidate",
    "difference",
    "ci_low",
    "ci_high",
    "confidence",
    "greater_is_better",
    "p_value",
)
_CHECK_KEYS = ("metric", "kind", "bound", "value", "passed", "reason", "slice")


def version_figures(project: Project, version: str) -> dict[str, Any]:
    """One version: its verdict and metrics, and the comparison report it was gated with
    (each metric against the champion of the day, with its interval; McNemar's counts;
    every check), when it has one. InputError (404) for a version that is not there."""
    catalog, name = project.catalog, project.name
    found = {v.version: v for v in catalog.versions(name)}
    info = found.get(version)
    if info is None:
        raise InputError(
            f"model {name!r} has no version {version[:20]!r}; its versions: "
            f"{', '.join(found) or 'none yet'}",
            status=404,
            code="no_version",
        )
    path = catalog.local_path(info) / "comparison.json"
    comparison = None
    if path.exists():
        report = json.loads(path.read_text(encoding="utf-8"))
        verdict = report.get("verdict") or {}
        comparison = {
            "against": report.get("baseline_ref"),
            "test_samples": report.get("test_samples"),
            "task": report.get("task"),
            "metrics": [
                {key: m.get(key) for key in _METRIC_KEYS}
                for m in (report.get("metrics") or {}).values()
            ],
            "mcnemar": report.get("mcnemar"),
            "passed": verdict.get("passed"),
            "checks": [{key: c.get(key) for key in _CHECK_KEYS} for c in verdict.get("checks", [])],
        }
    return {
        "model": name,
        "version": info.version,
        "created": info.created.isoformat(),
        "passed": info.passed,
        "reasons": info.reasons,
        "aliases": info.aliases,
        "metrics": info.metrics,
        "comparison": comparison,
    }


_TRAFFIC = f"""
SELECT
    epoch(time_bucket(INTERVAL '{_BUCKET} seconds', time)) AS t,
    version,
    count(DISTINCT request_id) FILTER (WHERE role IN ('champion', 'challenger')) AS requests,
    count(DISTINCT request_id) FILTER (WHERE error IS NOT NULL) AS errors,
    quantile_cont(latency_ms, 0.99) FILTER (
        WHERE row = 0 AND error IS NULL AND role IN ('champion', 'challenger')
    ) AS p99
FROM predictions
WHERE model = $model AND time >= $since
GROUP BY t, version
ORDER BY t, version
"""


def traffic_figures(project: Project, now: datetime | None = None) -> dict[str, Any]:
    """Requests, errors and p99 latency per version in buckets over the last minutes, from
    the prediction log; and the monitor's latest verdict, if it has run."""
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=_WINDOW)
    rows = query_logs(project.log_root, _TRAFFIC, {"model": project.name, "since": since})
    series: dict[str, dict[str, list[Any]]] = {}
    for t, version, requests, errors, p99 in rows:
        line = series.setdefault(str(version), {"t": [], "requests": [], "errors": [], "p99": []})
        line["t"].append(float(t))
        line["requests"].append(int(requests))
        line["errors"].append(int(errors))
        line["p99"].append(None if p99 is None else float(p99))
    monitor = next(
        (
            e
            for e in reversed(rollout_events(project.state, project.name, limit=_EVENTS))
            if e.kind == "monitor"
        ),
        None,
    )
    return {
        "model": project.name,
        "window_s": _WINDOW,
        "bucket_s": _BUCKET,
        "versions": series,
        "monitor": None if monitor is None else _monitor(monitor),
    }


def _monitor(event: RolloutEvent) -> dict[str, Any]:
    figures = event.figures
    return {
        "at": event.at.isoformat(),
        "message": event.message,
        "status": figures.get("status"),
        "rows": figures.get("rows"),
        "labelled": figures.get("labelled"),
        "live_accuracy": figures.get("live_accuracy"),
        "drifted": figures.get("drifted", []),
        "share": figures.get("share"),
        "columns": [
            {key: column.get(key) for key in _DRIFT_KEYS} for column in figures.get("columns", [])
        ],
        "distributions": figures.get("distributions", {}),
    }
