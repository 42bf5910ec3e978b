"""The live analysis of a rollout: what the prediction log and feedback say since a time.

Roles in the log: `champion` and `challenger` answered users; `shadow` is the
challenger's copy in shadow mode; `reference` is the champion's answer computed
off the path for a request the challenger served (so agreement is measurable
in a canary too). Rows a batch job logged (`mlgate score --log`, route `batch`)
are left out: the analysis judges the traffic the split routed, and a batch's
time is no request's latency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mlgate.rollout.estimated import Estimated
from mlgate.state.predlog import query_logs

__all__ = ["Analysis", "VersionFigures", "analyse"]


class VersionFigures(BaseModel):
    """One version's live figures over the analysis window."""

    version: str | None = None
    requests: int = 0
    errors: int = 0
    error_rate: float = 0.0
    p99_latency_ms: float | None = None
    labelled: int = Field(0, description="Rows with a feedback label.")
    correct: int = 0
    accuracy: float | None = None


class Analysis(BaseModel):
    """Champion and challenger side by side, as the controller sees them."""

    since: datetime
    champion: VersionFigures
    challenger: VersionFigures
    compared_rows: int = Field(0, description="Rows both versions predicted.")
    agreement: float | None = None
    paired_labelled: int = Field(
        0, description="Labelled rows both versions answered (a shadow's: every copied row)."
    )
    champion_only: int = Field(0, description="Of those, rows only the champion got right.")
    challenger_only: int = Field(0, description="Of those, rows only the challenger got right.")
    estimated: Estimated | None = Field(
        None,
        description="Both versions' performance estimated without labels since the rollout "
        "began (rollout.analysis.estimated).",
    )


_PER_ROLE = """
WITH p AS (
    SELECT * FROM predictions WHERE model = $model AND time >= $since AND route <> 'batch'
)
SELECT
    CASE WHEN role IN ('champion', 'reference') THEN 'champion' ELSE 'challenger' END AS side,
    max(version) AS version,
    count(DISTINCT request_id) FILTER (WHERE role <> 'reference') AS requests,
    count(DISTINCT request_id) AS attempts,
    count(DISTINCT request_id) FILTER (WHERE error IS NOT NULL) AS errors,
    quantile_cont(latency_ms, 0.99) FILTER (WHERE row = 0 AND error IS NULL) AS p99
FROM p
GROUP BY side
"""

#: Two answers that agree: the same label, or (for a regressor, $tolerance set) numbers
#: within that share of the second one (of 1, for values near 0).
_SAME = """
CASE WHEN CAST($tolerance AS DOUBLE) IS NULL THEN {a} = {b}
ELSE abs(TRY_CAST({a} AS DOUBLE) - TRY_CAST({b} AS DOUBLE))
     <= CAST($tolerance AS DOUBLE) * greatest(1.0, abs(TRY_CAST({b} AS DOUBLE)))
END
"""

_AGREEMENT = f"""
WITH p AS (
    SELECT request_id, row, role, prediction FROM predictions
    WHERE model = $model AND time >= $since AND error IS NULL AND route <> 'batch'
)
SELECT count(*),
    avg(CASE WHEN {_SAME.format(a="c.prediction", b="b.prediction")} THEN 1.0 ELSE 0.0 END)
FROM p AS c JOIN p AS b USING (request_id, row)
WHERE c.role IN ('challenger', 'shadow') AND b.role IN ('champion', 'reference')
"""

#: Each answered row counts once per side, with the first label sent for it: a label is
#: never counted for several rows (logs written before the gateway issued every request id
#: hold client-chosen ids that many requests share), and a second label changes nothing.
_ACCURACY = f"""
WITH p AS (
    SELECT request_id, row,
        CASE WHEN role = 'champion' THEN 'champion' ELSE 'challenger' END AS side,
        arg_min(prediction, time) AS prediction
    FROM predictions
    WHERE model = $model AND time >= $since AND error IS NULL AND role <> 'reference'
        AND route <> 'batch'
    GROUP BY request_id, row, side
),
f AS (
    SELECT request_id, row, arg_min(label, time) AS label FROM feedback
    WHERE model = $model GROUP BY request_id, row
)
SELECT
    p.side,
    count(*),
    sum(CASE WHEN {_SAME.format(a="p.prediction", b="f.label")} THEN 1 ELSE 0 END)
FROM p JOIN f USING (request_id, row)
GROUP BY p.side
"""


#: The labelled rows the champion and the shadow both answered (the same request), and on
#: how many of them exactly one was right: the paired comparison of a shadow.
_PAIRED = f"""
WITH p AS (
    SELECT request_id, row,
        CASE WHEN role = 'champion' THEN 'champion' ELSE 'challenger' END AS side,
        arg_min(prediction, time) AS prediction
    FROM predictions
    WHERE model = $model AND time >= $since AND error IS NULL
        AND role IN ('champion', 'shadow') AND route <> 'batch'
    GROUP BY request_id, row, side
),
f AS (
    SELECT request_id, row, arg_min(label, time) AS label FROM feedback
    WHERE model = $model GROUP BY request_id, row
),
j AS (
    SELECT
        coalesce({_SAME.format(a="a.prediction", b="f.label")}, false) AS champion_right,
        coalesce({_SAME.format(a="b.prediction", b="f.label")}, false) AS challenger_right
    FROM p AS a JOIN p AS b USING (request_id, row) JOIN f USING (request_id, row)
    WHERE a.side = 'champion' AND b.side = 'challenger'
)
SELECT count(*),
    count(*) FILTER (WHERE champion_right AND NOT challenger_right),
    count(*) FILTER (WHERE challenger_right AND NOT champion_right)
FROM j
"""


def analyse(
    log_root: str,
    model: str,
    since: datetime,
    *,
    tolerance: float | None = None,
    paired: bool = False,
) -> Analysis:
    """The figures of both versions from `since` until now. For a regressor, `tolerance`:
    answers within that share of each other agree, and within it of the label are correct.
    `paired`: also count the labelled rows both answered (a shadow's copies)."""
    params: dict[str, Any] = {"model": model, "since": since, "tolerance": tolerance}
    sides = {"champion": VersionFigures(), "challenger": VersionFigures()}
    counting = {"model": model, "since": since}
    for side, version, requests, attempts, errors, p99 in _run(log_root, _PER_ROLE, counting):
        figures = sides[side]
        figures.version = version
        figures.requests = int(requests or 0)
        figures.errors = int(errors or 0)
        # The champion's attempts include its reference answers to requests the
        # challenger served: their failures count against it, so they count below too.
        figures.error_rate = figures.errors / int(attempts) if attempts else 0.0
        figures.p99_latency_ms = None if p99 is None else float(p99)
    for side, labelled, correct in _run(log_root, _ACCURACY, params):
        figures = sides[side]
        figures.labelled = int(labelled or 0)
        figures.correct = int(correct or 0)
        figures.accuracy = figures.correct / figures.labelled if figures.labelled else None
    rows = _run(log_root, _AGREEMENT, params)
    compared, agreement = (rows[0] if rows else (0, None)) or (0, None)
    both = (_run(log_root, _PAIRED, params) or [(0, 0, 0)])[0] if paired else (0, 0, 0)
    return Analysis(
        since=since,
        champion=sides["champion"],
        challenger=sides["challenger"],
        compared_rows=int(compared or 0),
        agreement=None if not compared else float(agreement),
        paired_labelled=int(both[0] or 0),
        champion_only=int(both[1] or 0),
        challenger_only=int(both[2] or 0),
    )


def _run(root: str, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = query_logs(root, sql, params)
    return rows
