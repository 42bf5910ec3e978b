"""mlgate's analysis of a rollout another controller runs (Argo Rollouts, Flagger).

Those controllers move traffic between two sets of pods, a baseline and a canary,
and ask an analysis provider whether the canary is good. Each replica of the
gateway knows its own arm (MLGATE_ARM, set from the pod's labels) and writes it
into every prediction record; the judge compares the arms' records in the
shared prediction log since a time, with the same thresholds mlgate's own
controller applies (`mlgate.rollout.thresholds`, the project's `rollout.analysis`):
error rate, p99 latency ratio, agreement (on requests both arms answered: the
canary's answers to mirrored copies, joined by the client's x-request-id) and
live accuracy with its always-valid interval.

Beside them, drift: the canary arm's inputs in the window against the canary
version's reference profile (its training data), with the project's drift tests.
Both arms see the same inputs, so drift cannot tell which is worse; it is reported
(and a line added to the reasons) for the people watching, never the verdict:
a canary judged on inputs unlike its training data is judged on the figures above.

The verdict is `pass`, `fail` or `inconclusive` (the canary answered fewer than
`min_requests`, or the baseline answered none): a controller then waits, rather
than promoting on no evidence.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlgate.config.monitor import DriftConfig
from mlgate.config.rollout import RolloutConfig
from mlgate.drift.profile import Profile
from mlgate.rollout.analysis import Analysis, VersionFigures
from mlgate.rollout.thresholds import thresholds
from mlgate.rollout.verdict import Check
from mlgate.stats.sequential import SequentialResult, msprt

__all__ = ["ArmDrift", "ArmFigures", "Judgement", "arm_drift", "judge_arms"]

Outcome = Literal["pass", "fail", "inconclusive"]


class ArmFigures(VersionFigures):
    """One arm's live figures over the window; `version`: the highest it served."""

    arm: str


class ArmDrift(BaseModel):
    """The canary arm's inputs in the window against its version's reference profile."""

    version: str
    rows: int
    columns: int = Field(description="Features tested.")
    drifted: list[str] = Field(description="Those that drifted, most important first.")
    share: float
    dataset_drift: bool = Field(description="At least monitor.drift.share of them drifted.")


class Judgement(BaseModel):
    """The canary against the baseline, and the verdict."""

    model: str
    since: datetime
    verdict: Outcome
    passed: bool = Field(description="The verdict is pass.")
    reasons: list[str]
    baseline: ArmFigures
    canary: ArmFigures
    p99_latency_ratio: float | None = None
    compared_rows: int = Field(0, description="Rows both arms answered (mirrored requests).")
    agreement: float | None = None
    live_accuracy: SequentialResult | None = Field(
        None, description="Canary minus baseline accuracy, with its always-valid interval."
    )
    checks: list[Check] = Field(default_factory=list)
    drift: ArmDrift | None = Field(
        None,
        description="The canary arm's inputs against its version's training data: reported, "
        "never the verdict (both arms see the same inputs).",
    )


_PER_ARM = """
WITH p AS (
    SELECT * FROM predictions
    WHERE model = $model AND time >= $since AND route <> 'batch' AND role <> 'reference'
        AND arm IN ($baseline, $canary)
)
SELECT arm, max(version),
    count(DISTINCT request_id),
    count(DISTINCT request_id) FILTER (WHERE error IS NOT NULL),
    quantile_cont(latency_ms, 0.99) FILTER (WHERE row = 0 AND error IS NULL)
FROM p GROUP BY arm
"""

_SAME = """
CASE WHEN CAST($tolerance AS DOUBLE) IS NULL THEN {a} = {b}
ELSE abs(TRY_CAST({a} AS DOUBLE) - TRY_CAST({b} AS DOUBLE))
     <= CAST($tolerance AS DOUBLE) * greatest(1.0, abs(TRY_CAST({b} AS DOUBLE)))
END
"""

#: A mirrored request reaches both arms with the client's x-request-id: its answers
#: meet there (the gateway issues each arm its own request id).
_AGREEMENT = f"""
WITH p AS (
    SELECT client_request_id, row, arm, arg_min(prediction, time) AS prediction
    FROM predictions
    WHERE model = $model AND time >= $since AND error IS NULL AND route <> 'batch'
        AND role <> 'reference' AND client_request_id IS NOT NULL
        AND arm IN ($baseline, $canary)
    GROUP BY client_request_id, row, arm
)
SELECT count(*),
    avg(CASE WHEN {_SAME.format(a="c.prediction", b="b.prediction")} THEN 1.0 ELSE 0.0 END)
FROM p AS c JOIN p AS b USING (client_request_id, row)
WHERE c.arm = $canary AND b.arm = $baseline
"""

_ACCURACY = f"""
WITH p AS (
    SELECT request_id, row, arm, arg_min(prediction, time) AS prediction
    FROM predictions
    WHERE model = $model AND time >= $since AND error IS NULL AND route <> 'batch'
        AND role <> 'reference' AND arm IN ($baseline, $canary)
    GROUP BY request_id, row, arm
),
f AS (
    SELECT request_id, row, arg_min(label, time) AS label FROM feedback
    WHERE model = $model GROUP BY request_id, row
)
SELECT p.arm, count(*),
    sum(CASE WHEN {_SAME.format(a="p.prediction", b="f.label")} THEN 1 ELSE 0 END)
FROM p JOIN f USING (request_id, row)
GROUP BY p.arm
"""


def judge_arms(
    log_root: str,
    model: str,
    baseline: str,
    canary: str,
    since: datetime,
    config: RolloutConfig,
    *,
    regression: bool = False,
) -> Judgement:
    """The canary arm against the baseline arm from `since` until now, by `config`'s
    analysis thresholds (a regressor's answers agree within `regression_tolerance`)."""
    analysis = config.analysis
    tolerance = analysis.regression_tolerance if regression else None
    params: dict[str, Any] = {
        "model": model,
        "since": since,
        "baseline": baseline,
        "canary": canary,
    }
    arms = {baseline: ArmFigures(arm=baseline), canary: ArmFigures(arm=canary)}
    for arm, version, requests, errors, p99 in _query(log_root, _PER_ARM, params):
        figures = arms[arm]
        figures.version = version
        figures.requests = int(requests or 0)
        figures.errors = int(errors or 0)
        figures.error_rate = figures.errors / figures.requests if figures.requests else 0.0
        figures.p99_latency_ms = None if p99 is None else float(p99)
    labelled = {**params, "tolerance": tolerance}
    for arm, count, correct in _query(log_root, _ACCURACY, labelled):
        figures = arms[arm]
        figures.labelled, figures.correct = int(count or 0), int(correct or 0)
        figures.accuracy = figures.correct / figures.labelled if figures.labelled else None
    rows = _query(log_root, _AGREEMENT, labelled)
    compared, agreement = rows[0] if rows else (0, None)
    base, new = arms[baseline], arms[canary]
    both = Analysis(
        since=since,
        champion=base,
        challenger=new,
        compared_rows=int(compared or 0),
        agreement=None if not compared or agreement is None else float(agreement),
    )
    checks = (
        thresholds(both, config, mirrored=True, names=("canary", "baseline"))
        if new.requests and base.requests
        else []
    )
    verdict, reasons = _verdict(base, new, checks, analysis.min_requests)
    sequential = None
    if base.labelled and new.labelled:
        sequential = msprt(
            base.correct, base.labelled, new.correct, new.labelled, alpha=config.alpha
        )
    ratio = None
    if base.p99_latency_ms and new.p99_latency_ms is not None:
        ratio = new.p99_latency_ms / base.p99_latency_ms
    return Judgement(
        model=model,
        since=since,
        verdict=verdict,
        passed=verdict == "pass",
        reasons=reasons,
        baseline=base,
        canary=new,
        p99_latency_ratio=ratio,
        compared_rows=both.compared_rows,
        agreement=both.agreement,
        live_accuracy=sequential,
        checks=checks,
    )


#: The most rows of the window the drift tests read (a uniform sample beyond it).
DRIFT_ROWS = 20_000

_FEATURES = f"""
SELECT unnest(features) FROM predictions
WHERE model = $model AND time >= $since AND route <> 'batch' AND role <> 'reference'
    AND error IS NULL AND arm = $arm
USING SAMPLE reservoir({DRIFT_ROWS} ROWS) REPEATABLE (7)
"""


def arm_drift(
    log_root: str,
    model: str,
    arm: str,
    since: datetime,
    version: str,
    profile: Profile,
    config: DriftConfig,
    *,
    min_rows: int,
) -> ArmDrift | None:
    """Drift of `arm`'s inputs since `since` against `profile` (version `version`'s
    training data), or None with fewer than `min_rows` rows to test."""
    import pandas as pd

    from mlgate.drift.detector import detect
    from mlgate.training.preprocessing import MISSING

    params: dict[str, Any] = {"model": model, "since": since, "arm": arm}
    try:
        frame = _query_frame(log_root, _FEATURES, params)
    except _NoArms:
        return None
    if len(frame) < max(min_rows, 1):
        return None
    features = [c for c in profile.columns if c in frame.columns]
    for column in features:
        if profile.columns[column].kind == "categorical":
            # The gateway logs a missing category as its marker; the profile has it missing.
            frame[column] = frame[column].mask(frame[column] == MISSING)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    kinds: dict[str, str] = {c: profile.columns[c].kind for c in features}
    report = detect(profile, frame[features], config=config, kinds=kinds)
    return ArmDrift(
        version=version,
        rows=len(frame),
        columns=len(report.columns),
        drifted=[c.column for c in report.drifted],
        share=report.share,
        dataset_drift=report.dataset_drift,
    )


class _NoArms(Exception):
    """The log holds no arm column yet."""


def _query_frame(root: str, sql: str, params: dict[str, Any]) -> Any:
    import duckdb

    from mlgate.state.predlog import query_logs

    try:
        return query_logs(root, sql, params, as_frame=True)
    except duckdb.BinderException as error:
        # No segment names an arm, or holds features, yet: nothing to test.
        if '"arm"' not in str(error) and '"features"' not in str(error):
            raise
        raise _NoArms from error


def _query(root: str, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql`; none while the log holds only segments written before replicas
    named their arm (it has no `arm` column yet, so no record of either arm)."""
    import duckdb

    from mlgate.state.predlog import query_logs

    try:
        rows: list[tuple[Any, ...]] = query_logs(root, sql, params)
    except duckdb.BinderException as error:
        if '"arm"' not in str(error):
            raise
        return []
    return rows


def _verdict(
    baseline: ArmFigures, canary: ArmFigures, checks: list[Check], min_requests: int
) -> tuple[Outcome, list[str]]:
    """Fail on any failed check; wait (inconclusive) while either arm has too little."""
    failed = [c.reason for c in checks if not c.passed]
    if failed:
        return "fail", failed
    waiting = []
    if canary.requests < min_requests:
        waiting.append(
            f"canary arm {canary.arm!r} answered {canary.requests} requests in the window, "
            f"fewer than min_requests {min_requests}; send traffic to it and ask again"
        )
    if not baseline.requests:
        waiting.append(
            f"baseline arm {baseline.arm!r} answered no requests in the window; check that "
            "its pods set MLGATE_ARM to this value"
        )
    if waiting:
        return "inconclusive", waiting
    return "pass", [c.reason for c in checks]
