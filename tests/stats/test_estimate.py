"""Accuracy estimated from a classifier's calibrated confidence, against simulated truth."""

from __future__ import annotations

import numpy as np
import pytest

from mlgate.stats.estimate import Calibration, estimate_accuracy


def simulated(rng: np.random.Generator, rows: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Top-class probabilities and whether each answer was right, for a model whose
    probabilities run overconfident (right with chance p**1.5); `shift` (0 to 1) moves
    rows towards where the model is unsure, within the range it was calibrated on."""
    top = 0.5 + 0.5 * rng.beta(2 - shift, 1 + shift, rows)
    return top, rng.random(rows) < top**1.5


def test_the_estimate_tracks_realized_accuracy_under_covariate_shift_with_its_coverage() -> None:
    rng = np.random.default_rng(7)
    calibration = Calibration.fit(*simulated(rng, 2000, 0.0))
    assert calibration.usable
    covered, errors = 0, []
    for _ in range(200):
        top, right = simulated(rng, 500, shift=0.7)  # a window the model is less sure of
        estimate = estimate_accuracy(calibration, top)
        assert estimate is not None
        errors.append(abs(estimate.accuracy - right.mean()))
        covered += estimate.low <= right.mean() <= estimate.high
    held_out = calibration.held_out_accuracy
    assert np.mean(errors) < 0.03
    assert covered / 200 >= 0.9  # a 95% interval, give or take the simulation's own noise
    assert estimate.accuracy < held_out - 0.04  # the shift lowered it, and the estimate saw it


def test_raw_probabilities_would_have_overstated_the_accuracy() -> None:
    rng = np.random.default_rng(3)
    calibration = Calibration.fit(*simulated(rng, 2000, 0.0))
    top, right = simulated(rng, 5000, 0.5)
    estimate = estimate_accuracy(calibration, top)
    assert estimate is not None
    assert top.mean() - right.mean() > 0.05  # the model's own confidence is too high
    assert estimate.low <= right.mean() <= estimate.high
    assert abs(estimate.accuracy - right.mean()) < (top.mean() - right.mean()) / 2


def test_too_few_rows_or_uninformative_probabilities_give_no_estimate() -> None:
    few = Calibration.fit(np.full(50, 0.9), np.ones(50, dtype=bool))
    assert few.note == "50 held-out rows with probabilities; a calibration needs 100"
    assert estimate_accuracy(few, [0.9]) is None
    rng = np.random.default_rng(0)
    flat = Calibration.fit(rng.uniform(0.5, 1.0, 1000), rng.random(1000) < 0.7)
    assert flat.note.startswith(
        "the model's probabilities do not tell its right answers from its wrong ones"
    )
    assert estimate_accuracy(flat, [0.9]) is None
    good = Calibration.fit(*simulated(rng, 500, 0.0))
    assert estimate_accuracy(good, [np.nan]) is None  # no row with a probability
    assert Calibration.model_validate_json(good.model_dump_json()) == good


@pytest.mark.parametrize("level", [0.9, 0.99])
def test_the_interval_widens_with_the_level(level: float) -> None:
    rng = np.random.default_rng(1)
    calibration = Calibration.fit(*simulated(rng, 1000, 0.0))
    top, _ = simulated(rng, 300, 0.3)
    base = estimate_accuracy(calibration, top)
    other = estimate_accuracy(calibration, top, confidence_level=level)
    assert base is not None
    assert other is not None
    assert (other.high - other.low > base.high - base.low) == (level > 0.95)
