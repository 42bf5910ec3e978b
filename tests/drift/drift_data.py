"""Frames for the drift tests: numeric and categorical columns with a known shift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Rows on each side of the large comparison.
MILLION = 1_000_000
#: Numeric columns whose mean moves by 0.1 of their standard deviation.
SHIFTED = ["x00", "x04", "x07", "x12", "x19"]


@dataclass(frozen=True)
class Shifted:
    """A reference and a current frame of 20 numeric and 2 categorical columns."""

    reference: pd.DataFrame
    current: pd.DataFrame
    shifted: list[str]


def numeric_and_categorical(
    rng: np.random.Generator, rows: int, shift: dict[str, float] | None = None
) -> pd.DataFrame:
    """20 numeric columns x00..x19 with their own means and scales, and 'plan' and 'region'.

    `shift` moves a column's mean by that many of its standard deviations.
    """
    means = np.linspace(-50, 50, 20)
    scales = np.geomspace(0.01, 1000, 20)
    data = rng.standard_normal((rows, 20)) * scales + means
    for column, size in (shift or {}).items():
        data[:, int(column[1:])] += size * scales[int(column[1:])]
    frame = pd.DataFrame(data, columns=[f"x{i:02d}" for i in range(20)])
    frame["plan"] = np.array(["basic", "plus", "pro"])[rng.choice(3, rows, p=[0.6, 0.3, 0.1])]
    frame["region"] = np.array(["north", "south", "east", "west"])[rng.integers(0, 4, rows)]
    return frame
