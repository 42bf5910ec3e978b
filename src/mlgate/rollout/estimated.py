"""Both versions' performance estimated without labels, on the traffic each saw.

A classifier's accuracy comes from its calibrated confidence (mlgate.stats.estimate), a
regressor's MAE from its loss model (mlgate.stats.loss), each fitted on the version's
held-out rows at registration and kept in its card. The challenger is estimated on the
rows it answered (served in a canary or A/B, copies in a shadow); the champion on the
rows it served and, where it answered the challenger's rows too (a shadow's requests,
a canary's reference answers), on those same rows, which is the fairer comparison:
both versions judged on the same inputs.

Like any estimate from a model's own view of its rows, it follows covariate shift, not
a change in how features relate to the label: live accuracy, once labels come, has the
last word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from mlgate.state.predlog import query_logs
from mlgate.stats.estimate import Calibration, estimate_accuracy
from mlgate.stats.loss import LossModel, estimate_error

if TYPE_CHECKING:
    from mlgate.registry.bundle import ModelCard

__all__ = ["Estimated", "EstimatedSide", "estimate_sides"]

Metric = Literal["accuracy", "mae"]

_ROWS = """
SELECT role, version, prediction, score, unnest(features)
FROM predictions
WHERE model = $model AND time >= $since AND error IS NULL AND route <> 'batch'
    AND prediction IS NOT NULL
"""


class EstimatedSide(BaseModel):
    """One version's estimated performance on some rows, with its 95% interval."""

    version: str
    rows: int
    value: float
    low: float
    high: float


class Estimated(BaseModel):
    """Champion and challenger estimated without labels: accuracy (higher is better) for
    a classifier, MAE (lower is better) for a regressor."""

    metric: Metric
    champion: EstimatedSide | None = Field(None, description="On the rows it served.")
    champion_same_rows: EstimatedSide | None = Field(
        None,
        description="On the rows the challenger answered (a shadow's requests, a canary's "
        "reference answers).",
    )
    challenger: EstimatedSide | None = Field(None, description="On the rows it answered.")
    notes: list[str] = Field(default_factory=list, description="Why a side has no estimate.")

    @property
    def against(self) -> EstimatedSide | None:
        """The champion's figure the challenger is compared with: on the same rows when
        there are any."""
        return self.champion_same_rows or self.champion

    def shortfall(self) -> float | None:
        """How far the challenger's interval lies beyond the champion's on the worse side
        (accuracy: champion's low minus challenger's high; MAE: challenger's low over the
        champion's high, as a share of the champion's MAE); None without both figures."""
        champion, challenger = self.against, self.challenger
        if champion is None or challenger is None:
            return None
        if self.metric == "accuracy":
            return champion.low - challenger.high
        return (challenger.low - champion.high) / max(champion.value, 1e-12)

    def describe(self) -> str:
        """The figures, for people."""

        def said(side: EstimatedSide | None, where: str) -> str:
            if side is None:
                return f"{where}: none"
            return f"{where} {side.value:.3f} ({side.low:.3f} to {side.high:.3f}, {side.rows} rows)"

        rows = "same rows" if self.champion_same_rows is not None else "rows it served"
        return (
            f"estimated {self.metric}: {said(self.challenger, 'challenger')}, "
            f"{said(self.against, f'champion on the {rows}')}"
        )


def estimate_sides(
    log_root: str,
    model: str,
    since: datetime,
    cards: dict[str, ModelCard | None],
    *,
    champion: str,
    challenger: str,
) -> Estimated:
    """Each version's estimated performance on the rows logged since `since`, from its
    card in `cards` (by version)."""
    frame = query_logs(log_root, _ROWS, {"model": model, "since": since}, as_frame=True)
    task = next((c.task for c in cards.values() if c is not None), "classification")
    found = Estimated(metric="mae" if task == "regression" else "accuracy")
    if frame.empty:
        return found
    roles = frame["role"]
    found.challenger = _side(
        found,
        cards.get(challenger),
        frame[roles.isin(["challenger", "shadow"]) & (frame["version"] == challenger)],
        challenger,
    )
    served = frame[(roles == "champion") & (frame["version"] == champion)]
    found.champion = _side(found, cards.get(champion), served, champion)
    reference = frame[(roles == "reference") & (frame["version"] == champion)]
    if roles.eq("shadow").any():  # the champion served the very requests the copies were of
        found.champion_same_rows = found.champion
    elif not reference.empty:  # a canary: the champion's answers to the challenger's rows
        found.champion_same_rows = _side(found, cards.get(champion), reference, champion)
    return found


def _side(
    found: Estimated, card: ModelCard | None, rows: Any, version: str
) -> EstimatedSide | None:
    """One version's estimate on `rows`; None (with a note) when it cannot be made."""
    if rows.empty:
        return None
    if card is None:
        found.notes.append(f"version {version}: its card could not be read")
        return None
    way = _WAYS[found.metric]
    fitted = way.fitted(card)
    if fitted is None or not fitted.usable:
        found.notes.append(f"version {version}: {fitted.note if fitted else way.without}")
        return None
    figures = way.estimate(fitted, rows)
    if figures is None:
        return None
    value, low, high, counted = figures
    return EstimatedSide(version=version, rows=counted, value=value, low=low, high=high)


#: An estimate on some rows: the value, its interval's low and high, the rows it is on.
_Figures = tuple[float, float, float, int]


@dataclass(frozen=True)
class _Way:
    """How a metric is estimated: the card's fitted model it needs (and what to say
    without one), and the estimate that model gives on some rows."""

    fitted: Callable[[ModelCard], Calibration | LossModel | None]
    without: str
    estimate: Callable[[Any, Any], _Figures | None]


def _accuracy(calibration: Calibration, rows: Any) -> _Figures | None:
    estimate = estimate_accuracy(calibration, rows["score"].to_numpy(dtype=float))
    if estimate is None:
        return None
    return estimate.accuracy, estimate.low, estimate.high, estimate.rows


def _mae(loss: LossModel, rows: Any) -> _Figures | None:
    import pandas as pd

    predicted = pd.to_numeric(rows["prediction"], errors="coerce").to_numpy(dtype=float)
    error = estimate_error(loss, rows, predicted)
    if error is None:
        return None
    return error.mae, error.mae_low, error.mae_high, error.rows


_WAYS: dict[Metric, _Way] = {
    "accuracy": _Way(lambda card: card.calibration, "no calibration (no probabilities)", _accuracy),
    "mae": _Way(lambda card: card.loss_model, "no loss model", _mae),
}
