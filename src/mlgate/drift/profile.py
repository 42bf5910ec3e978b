"""Reference profiles: what drift is measured against, without the raw training data.

A numeric column keeps its count, missing count, mean, standard deviation and
2,001 evenly spaced order statistics (a quantile sketch; the tests read it as
the piecewise-linear CDF through those points, within 1/2,000 of the data's
everywhere); a categorical column keeps its counts. A profile is about 40 KB
per numeric column however big the training data was (770 KB for 20 numeric
and 2 categorical columns of a million rows), and is stored with every
registered version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from mlgate.drift.stattests import CategoricalSample, NumericSample
from mlgate.errors import DataError

__all__ = [
    "PROFILE",
    "ColumnProfile",
    "Profile",
    "build_profile",
    "distributions",
    "sample_of",
]

#: The profile's file name in a model's folder.
PROFILE = "profile.json"
#: Order statistics kept per numeric column.
SKETCH = 2001


class ColumnProfile(BaseModel):
    """One column's summary."""

    kind: Literal["numeric", "categorical"]
    count: int = Field(description="Non-missing values.")
    missing: int = 0
    mean: float | None = None
    std: float | None = None
    quantiles: list[float] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


class Profile(BaseModel):
    """Every feature's summary, plus the model's outputs and the labels when known."""

    rows: int
    columns: dict[str, ColumnProfile]
    prediction: ColumnProfile | None = None
    label: ColumnProfile | None = None
    importance: dict[str, float] = Field(
        default_factory=dict,
        description="The model's permutation importance of each feature on its held-out "
        "rows (mlgate.evaluation.importance): drifted columns are ranked by it.",
    )

    def save(self, path: Path) -> Path:
        """Write the profile as JSON."""
        path.write_text(self.model_dump_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Profile:
        """Read a profile written by `save`, or a DataError saying why it is not one."""
        fix = "Pass a profile.json that mlgate wrote (each run folder has one)."
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise DataError("file not found.", source=path, fix="Check the path.") from e
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read it ({type(e).__name__}).", source=path, fix=fix) from e
        try:
            return cls.model_validate(json.loads(text))
        except json.JSONDecodeError as e:
            raise DataError(f"not JSON ({e.msg}, line {e.lineno}).", source=path, fix=fix) from e
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the top level"
            raise DataError(
                f"not a drift profile ({where}: {first['msg']}).", source=path, fix=fix
            ) from e


def _numeric(values: Any) -> ColumnProfile:
    import pandas as pd

    data = pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.sort(data[np.isfinite(data)])
    missing = int(data.size - finite.size)
    if finite.size == 0:
        return ColumnProfile(kind="numeric", count=0, missing=missing)
    positions = np.linspace(0, finite.size - 1, min(SKETCH, finite.size))
    return ColumnProfile(
        kind="numeric",
        count=int(finite.size),
        missing=missing,
        mean=float(finite.mean()),
        std=float(finite.std()),
        quantiles=np.interp(positions, np.arange(finite.size), finite).tolist(),
    )


def _categorical(values: Any) -> ColumnProfile:
    import pandas as pd

    series = pd.Series(values)
    sample = CategoricalSample.of(series)
    return ColumnProfile(
        kind="categorical",
        count=sample.count,
        missing=int(series.isna().sum()),
        counts=sample.counts,
    )


def column_profile(values: Any, kind: str) -> ColumnProfile:
    """The summary of one column of `kind` numeric or categorical."""
    return _numeric(values) if kind == "numeric" else _categorical(values)


def build_profile(
    frame: Any,
    kinds: dict[str, str],
    *,
    predictions: Any = None,
    prediction_kind: str = "categorical",
    labels: Any = None,
) -> Profile:
    """The profile of a pandas frame's features, and of predictions and labels if given."""
    return Profile(
        rows=len(frame),
        columns={
            name: column_profile(frame[name].to_numpy(), kind) for name, kind in kinds.items()
        },
        prediction=None
        if predictions is None
        else column_profile(np.asarray(predictions), prediction_kind),
        label=None if labels is None else column_profile(np.asarray(labels), prediction_kind),
    )


def sample_of(column: ColumnProfile) -> NumericSample | CategoricalSample:
    """The profile of one column as a sample the drift tests take."""
    if column.kind == "categorical":
        return CategoricalSample(dict(column.counts))
    return NumericSample(
        sorted=np.asarray(column.quantiles, dtype=np.float64),
        count=column.count,
        mean=column.mean if column.mean is not None else float("nan"),
        std=column.std if column.std is not None else float("nan"),
    )


#: Percentiles at which `distributions` compares two numeric columns.
_LEVELS = [float(p) for p in range(0, 101, 5)]


def distributions(reference: ColumnProfile, current: ColumnProfile) -> dict[str, Any]:
    """Two profiles of one column side by side, to plot: a numeric column's value at every
    5th percentile, a categorical one's share of each reference category (the rest of
    the current values as one share, "(other)": their names are not kept)."""
    if reference.kind == "numeric":
        return {
            "kind": "numeric",
            "levels": _LEVELS,
            "reference": _percentiles(reference.quantiles),
            "current": _percentiles(current.quantiles),
        }
    categories = sorted(reference.counts, key=lambda c: -reference.counts[c])
    seen = sum(current.counts.get(c, 0) for c in categories)
    total = max(current.count, 1)
    return {
        "kind": "categorical",
        "categories": [*categories, "(other)"],
        "reference": [reference.counts[c] / max(reference.count, 1) for c in categories] + [0.0],
        "current": [current.counts.get(c, 0) / total for c in categories]
        + [(current.count - seen) / total],
    }


def _percentiles(sketch: list[float]) -> list[float | None]:
    """The sketch's value at each of `_LEVELS` (none for an empty column)."""
    if not sketch:
        return [None] * len(_LEVELS)
    positions = np.asarray(_LEVELS) / 100 * (len(sketch) - 1)
    return [float(v) for v in np.interp(positions, np.arange(len(sketch)), sketch)]
