"""What a drift check finds survives JSON."""

from __future__ import annotations

import numpy as np
from drift_data import numeric_and_categorical

from mlgate.drift import ColumnDrift, DriftReport, detect


def test_column_drift_round_trips_through_json() -> None:
    rng = np.random.default_rng(9)
    report = detect(numeric_and_categorical(rng, 500), numeric_and_categorical(rng, 500))
    again = DriftReport.model_validate_json(report.model_dump_json())
    assert again.columns == report.columns
    assert isinstance(again.columns[0], ColumnDrift)
