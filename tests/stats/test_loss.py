"""A regressor's error estimated from its loss model, against simulated truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.stats.loss import LossModel, estimate_error

KINDS = {"x": "numeric", "group": "categorical"}


def simulated(
    rng: np.random.Generator, rows: int, shift: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows, a model's predictions and the truth, for a model whose errors grow with |x|
    and are larger in group "b"; `shift` moves rows towards large x, within the range seen."""
    x = rng.uniform(-3, 3, rows)
    x = np.where(rng.random(rows) < shift, rng.uniform(1, 3, rows), x)
    group = rng.choice(["a", "b"], rows)
    predicted = 2 * x
    noise = (0.3 + np.abs(x)) * np.where(group == "b", 2.0, 1.0)
    truth = predicted + rng.normal(0, 1, rows) * noise
    return pd.DataFrame({"x": x, "group": group}), predicted, truth


def _covered(seed: int, shift: float) -> tuple[bool, bool, float]:
    """Whether the intervals held the realized MAE and RMSE, and the MAE's relative error."""
    rng = np.random.default_rng(seed)
    model = LossModel.fit(*simulated(rng, 2000, 0.0), KINDS)
    frame, predicted, truth = simulated(rng, 500, shift)
    estimate = estimate_error(model, frame, predicted)
    assert estimate is not None
    mae = np.abs(truth - predicted).mean()
    rmse = np.sqrt(((truth - predicted) ** 2).mean())
    return (
        estimate.mae_low <= mae <= estimate.mae_high,
        estimate.rmse_low <= rmse <= estimate.rmse_high,
        abs(estimate.mae - mae) / mae,
    )


def test_the_estimate_tracks_realized_error_under_covariate_shift_with_its_coverage() -> None:
    found = [_covered(seed, 0.6) for seed in range(60)]
    mae_covered = np.mean([f[0] for f in found])
    rmse_covered = np.mean([f[1] for f in found])
    # 95% intervals: over 60 windows, fewer than 80% covered would be a 1-in-10^6 draw.
    assert mae_covered >= 0.8, mae_covered
    assert rmse_covered >= 0.8, rmse_covered
    assert np.mean([f[2] for f in found]) < 0.06  # relative to the realized MAE


def test_the_shift_raises_the_estimate_as_it_raises_the_error() -> None:
    rng = np.random.default_rng(5)
    model = LossModel.fit(*simulated(rng, 2000, 0.0), KINDS)
    still = estimate_error(model, *simulated(rng, 1000, 0.0)[:2])
    moved = estimate_error(model, *simulated(rng, 1000, 0.9)[:2])
    assert still is not None
    assert moved is not None
    assert moved.mae_low > still.mae_high
    assert abs(still.mae - model.held_out_mae) < 0.1


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 300))
def test_estimates_are_ordered_and_the_model_survives_json(seed: int, rows: int) -> None:
    rng = np.random.default_rng(seed)
    model = LossModel.fit(*simulated(rng, 400, 0.0), KINDS)
    again = LossModel.model_validate_json(model.model_dump_json())
    frame, predicted, _ = simulated(rng, rows, 0.3)
    frame.loc[frame.index[:1], "group"] = "unseen"
    frame.loc[frame.index[1:2], "x"] = np.nan
    estimate = estimate_error(again, frame, predicted)
    assert estimate == estimate_error(model, frame, predicted)
    assert estimate is not None
    assert 0 <= estimate.mae_low <= estimate.mae <= estimate.mae_high
    assert 0 <= estimate.rmse_low <= estimate.rmse <= estimate.rmse_high
    assert estimate.rows == rows


def test_too_few_rows_give_no_estimate() -> None:
    rng = np.random.default_rng(0)
    few = LossModel.fit(*simulated(rng, 50, 0.0), KINDS)
    assert few.note == "50 held-out rows with a residual; a loss model needs 100"
    frame, predicted, _ = simulated(rng, 10, 0.0)
    assert estimate_error(few, frame, predicted) is None
    good = LossModel.fit(*simulated(rng, 500, 0.0), KINDS)
    assert estimate_error(good, frame, np.full(10, np.nan)) is None
