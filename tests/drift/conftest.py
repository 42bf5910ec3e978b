"""Fixtures for the drift tests: a million rows with a known shift, and a restorable registry."""

from __future__ import annotations

import numpy as np
import pytest
from drift_data import MILLION, SHIFTED, Shifted, numeric_and_categorical

from mlgate.drift import stattests


@pytest.fixture(scope="session")
def million() -> Shifted:
    """A million rows a side; the current side's SHIFTED columns moved by 0.1 std."""
    rng = np.random.default_rng(2024)
    return Shifted(
        reference=numeric_and_categorical(rng, MILLION),
        current=numeric_and_categorical(rng, MILLION, dict.fromkeys(SHIFTED, 0.1)),
        shifted=SHIFTED,
    )


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may register drift tests of their own; the registry is restored afterwards."""
    monkeypatch.setattr(stattests, "_REGISTRY", dict(stattests._REGISTRY))
