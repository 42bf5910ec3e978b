"""The champion on the window's traffic: live figures, estimates before labels, the verdict.

Live accuracy (or a regressor's MAE and RMSE) is measured on the labelled rows;
before there are enough labels, the champion's calibration (or loss model)
estimates it from the rows alone. The verdict is drift against the reference
profile, then accuracy against `monitor.accuracy_floor` and error against
`monitor.error_ceiling`. Each fills in the cycle's `CycleResult`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.drift.detector import compare_column, detect, detect_profiles, sample_values
from mlgate.drift.profile import Profile, column_profile, distributions, sample_of
from mlgate.monitor.result import CycleResult
from mlgate.registry.bundle import ModelCard
from mlgate.stats.estimate import estimate_accuracy, estimate_binary
from mlgate.stats.loss import estimate_error

if TYPE_CHECKING:
    from mlgate.config.monitor import MonitorConfig

__all__ = ["estimate", "judge", "live_accuracy", "live_error"]


def live_accuracy(traffic: Any, task: str) -> tuple[int, float | None]:
    if traffic.empty or "label" not in traffic:
        return 0, None
    labelled = traffic[traffic["label"].notna()]
    if labelled.empty or task != "classification":
        return len(labelled), None
    hits = labelled["prediction"].astype(str) == labelled["label"].astype(str)
    return len(labelled), float(hits.mean())


def live_error(traffic: Any) -> tuple[float, float] | None:
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


def estimate(card: ModelCard | None, traffic: Any, result: CycleResult, min_labels: int) -> None:
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


def judge(
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
