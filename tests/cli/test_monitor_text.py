"""The monitor's one-line verdict: live and estimated performance, the gap between them once
labels came, and why there is no estimate when there is none."""

from __future__ import annotations

from datetime import UTC, datetime

from mlgate.cli.monitor import _performance
from mlgate.monitor.result import CycleResult
from mlgate.stats.estimate import AccuracyEstimate

AT = datetime(2026, 12, 5, tzinfo=UTC)


def cycle(**fields: object) -> CycleResult:
    base: dict[str, object] = {
        "model": "m",
        "at": AT,
        "window_start": AT,
        "status": "healthy",
        "reasons": [],
        "rows": 600,
        "labelled": 0,
        "champion": "1",
    }
    return CycleResult.model_validate(base | fields)


def test_the_gap_between_realized_and_estimated_accuracy_is_said() -> None:
    estimate = AccuracyEstimate(accuracy=0.722, low=0.678, high=0.766, rows=600)
    said = _performance(
        cycle(labelled=600, live_accuracy=0.685, estimated_accuracy=estimate, estimate_gap=-0.031)
    )
    assert said == (
        "live accuracy 0.685, estimated 0.722 (0.678 to 0.766); realized minus estimated on "
        "the labelled rows -0.031"
    )


def test_without_an_estimate_it_says_why() -> None:
    note = "54 held-out rows with probabilities; a calibration needs 100"
    assert _performance(cycle(estimate_note=note)) == (f"live accuracy - (no estimate: {note})")
