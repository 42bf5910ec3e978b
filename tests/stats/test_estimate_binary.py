"""A binary classifier's F1 and ROC AUC estimated from its calibrated confidence (CBPE),
against simulated truth under covariate shift."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, roc_auc_score

from mlgate.stats.estimate import Calibration, estimate_binary


def simulated(
    rng: np.random.Generator, rows: int, centre: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-class probabilities, positive answers and true labels of a model whose
    probabilities run overconfident; `centre` moves the rows (covariate shift)."""
    x = rng.normal(centre, 1.2, rows)
    truth = rng.random(rows) < 1 / (1 + np.exp(-2 * x))
    probability = 1 / (1 + np.exp(-3 * x))
    positive = probability > 0.5
    return np.maximum(probability, 1 - probability), positive, truth


def _fitted(rng: np.random.Generator) -> Calibration:
    top, positive, truth = simulated(rng, 2000, 0.0)
    return Calibration.fit(top, positive == truth)


def test_f1_and_auc_estimates_track_the_realized_under_covariate_shift() -> None:
    f1_covered = auc_covered = 0
    errors = []
    runs = 40
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        calibration = _fitted(rng)
        top, positive, truth = simulated(rng, 500, centre=-0.8)  # fewer positives
        estimate = estimate_binary(calibration, top, positive, seed=seed)
        assert estimate is not None
        f1 = f1_score(truth, positive)
        auc = roc_auc_score(truth, np.where(positive, top, 1 - top))
        assert estimate.roc_auc is not None
        assert estimate.roc_auc_low is not None
        assert estimate.roc_auc_high is not None
        f1_covered += estimate.f1_low <= f1 <= estimate.f1_high
        auc_covered += estimate.roc_auc_low <= auc <= estimate.roc_auc_high
        errors.append((abs(estimate.f1 - f1), abs(estimate.roc_auc - auc)))
    # 95% intervals: fewer than 80% of 40 windows covered is a 1-in-10^4 draw.
    assert f1_covered / runs >= 0.8, f1_covered
    assert auc_covered / runs >= 0.8, auc_covered
    assert np.mean(errors, axis=0).max() < 0.04


def test_the_estimate_sees_f1_fall_as_positives_thin_out() -> None:
    rng = np.random.default_rng(4)
    calibration = _fitted(rng)
    before = estimate_binary(calibration, *simulated(rng, 2000, 0.0)[:2])
    after = estimate_binary(calibration, *simulated(rng, 2000, -1.2)[:2])
    assert before is not None
    assert after is not None
    assert after.f1_high < before.f1_low


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 200))
def test_estimates_are_ordered_within_zero_and_one(seed: int, rows: int) -> None:
    rng = np.random.default_rng(seed)
    calibration = _fitted(rng)
    top, positive, _ = simulated(rng, rows, rng.uniform(-2, 2))
    estimate = estimate_binary(calibration, top, positive)
    assert estimate is not None
    assert 0 <= estimate.f1_low <= estimate.f1 <= estimate.f1_high <= 1
    if estimate.roc_auc is not None:
        assert estimate.roc_auc_low is not None
        assert estimate.roc_auc_high is not None
        assert 0 <= estimate.roc_auc_low <= estimate.roc_auc <= estimate.roc_auc_high <= 1
    assert estimate.rows == rows
    assert estimate_binary(calibration, [np.nan], [True]) is None
