"""A regressor's error estimated without labels, from a loss model (direct loss estimation).

At registration a small regression tree is grown on the held-out rows, from their
features and the model's prediction to the size of each row's residual. Its leaves are
bins of held-out rows that erred alike: each leaf keeps its rows' mean absolute and
squared residual (and the fourth power, for the spread of the squared). On live traffic
each row falls in a leaf, so the window's expected MAE is the mean of its rows' leaf
figures, and its expected MSE likewise. The interval adds, as the classifier's does
(mlgate.stats.estimate), the window's own draw to each leaf's measurement error,
weighted by the window's rows in it.

The tree is kept as plain numbers (thresholds, children, leaf figures) in the version's
card: loading it runs no code. Like confidence-based estimation, it follows covariate
shift (rows moving to where the model errs more or less) and cannot see concept drift,
which only labels reveal.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from mlgate.stats.estimate import MIN_CALIBRATION_ROWS, ROWS_PER_BIN

__all__ = ["ErrorEstimate", "LossModel", "estimate_error"]

#: The column the model's prediction takes among the loss model's inputs.
PREDICTION = "(prediction)"
#: Most leaves of the tree, each of at least ROWS_PER_BIN held-out rows. More than the
#: classifier's bins: a residual's size varies over the whole feature space, and coarse
#: leaves miss where a shift moves rows within them (benchmarks/estimation.py: 20 leaves
#: held the realized MAE in 78% of windows at its largest shift, 64 in 90%).
MAX_LEAVES = 64


class LossModel(BaseModel):
    """From a row's features and prediction to its expected absolute and squared residual:
    a regression tree fitted on the held-out rows, kept as numbers."""

    inputs: list[str] = Field(description="The tree's input columns, the prediction last.")
    categories: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Each categorical input's categories; a row's code is its index, -1 "
        "for one unseen or missing.",
    )
    fill: list[float] = Field(default_factory=list, description="Each input's missing value.")
    feature: list[int] = Field(default_factory=list, description="Each node's input, -1 a leaf.")
    threshold: list[float] = Field(default_factory=list)
    left: list[int] = Field(default_factory=list)
    right: list[int] = Field(default_factory=list)
    leaf: list[int] = Field(default_factory=list, description="Each node's leaf index, or -1.")
    absolute: list[float] = Field(default_factory=list, description="Each leaf's mean |residual|.")
    squared: list[float] = Field(default_factory=list, description="Each leaf's mean residual².")
    fourth: list[float] = Field(default_factory=list, description="Each leaf's mean residual⁴.")
    counts: list[int] = Field(default_factory=list, description="Each leaf's held-out rows.")
    rows: int
    held_out_mae: float
    held_out_rmse: float
    note: str = Field("", description="Why error cannot be estimated, when it cannot.")

    @property
    def usable(self) -> bool:
        return not self.note

    @classmethod
    def fit(
        cls, frame: Any, predicted: Any, truth: Any, kinds: dict[str, str], *, seed: int = 0
    ) -> LossModel:
        """The loss model of held-out rows `frame` (features of `kinds`), the model's
        `predicted` values and the `truth`."""
        from sklearn.tree import DecisionTreeRegressor

        predicted = np.asarray(predicted, dtype=float)
        residual = np.asarray(truth, dtype=float) - predicted
        keep = np.isfinite(residual)
        rows = int(keep.sum())
        mae = float(np.abs(residual[keep]).mean()) if rows else 0.0
        rmse = float(math.sqrt((residual[keep] ** 2).mean())) if rows else 0.0
        base = {"inputs": [], "rows": rows, "held_out_mae": mae, "held_out_rmse": rmse}
        if rows < MIN_CALIBRATION_ROWS:
            note = (
                f"{rows} held-out rows with a residual; a loss model needs {MIN_CALIBRATION_ROWS}"
            )
            return cls.model_validate(base | {"note": note})
        features = [c for c in kinds if c in frame.columns]
        categories = {
            c: sorted({str(v) for v in frame[c].dropna()})
            for c in features
            if kinds[c] == "categorical"
        }
        model = cls.model_validate(base | {"inputs": [*features, PREDICTION]})
        model.categories = categories
        raw = model._matrix(frame, predicted)
        model.fill = [float(np.nanmedian(col)) if np.isfinite(col).any() else 0.0 for col in raw.T]
        X, r = model._filled(raw)[keep], residual[keep]
        tree = DecisionTreeRegressor(
            max_leaf_nodes=min(MAX_LEAVES, rows // ROWS_PER_BIN),
            min_samples_leaf=ROWS_PER_BIN,
            random_state=seed,
        ).fit(X, np.abs(r))
        t = tree.tree_
        leaves = np.flatnonzero(t.children_left < 0)
        index = np.full(t.node_count, -1)
        index[leaves] = np.arange(len(leaves))
        at = index[tree.apply(X)]
        counts = np.bincount(at, minlength=len(leaves))

        def mean(values: Any) -> list[float]:
            return [float(v) for v in np.bincount(at, values, len(leaves)) / counts]

        inner = t.children_left >= 0
        model.feature = [int(f) for f in np.where(inner, t.feature, -1)]
        model.threshold = [float(v) for v in t.threshold]
        model.left, model.right = (
            [int(v) for v in t.children_left],
            [int(v) for v in t.children_right],
        )
        model.leaf = [int(v) for v in index]
        model.absolute, model.squared, model.fourth = mean(np.abs(r)), mean(r**2), mean(r**4)
        model.counts = [int(c) for c in counts]
        return model

    def _matrix(self, frame: Any, predicted: Any) -> Any:
        """The inputs as numbers, NaN where missing."""
        columns = []
        for name in self.inputs[:-1]:
            if name not in frame.columns:
                columns.append(np.full(len(frame), np.nan))
            elif name in self.categories:
                codes = {c: i for i, c in enumerate(self.categories[name])}
                values = frame[name]
                columns.append(
                    np.array(
                        [np.nan if v is None or v != v else codes.get(str(v), -1) for v in values],
                        dtype=float,
                    )
                )
            else:
                columns.append(np.asarray(frame[name], dtype=float))
        columns.append(np.asarray(predicted, dtype=float))
        return np.column_stack(columns)

    def _filled(self, raw: Any) -> Any:
        return np.where(np.isnan(raw), np.asarray(self.fill)[None, :], raw)

    def leaves(self, frame: Any, predicted: Any) -> Any:
        """The leaf of each row, from its features in `frame` and its `predicted` value."""
        X = self._filled(self._matrix(frame, predicted))
        feature, threshold = np.asarray(self.feature), np.asarray(self.threshold)
        left, right = np.asarray(self.left), np.asarray(self.right)
        node = np.zeros(len(X), dtype=int)
        rows = np.arange(len(X))
        while True:
            inner = feature[node] >= 0
            if not inner.any():
                break
            i = rows[inner]
            n = node[i]
            go_left = X[i, feature[n]] <= threshold[n]
            node[i] = np.where(go_left, left[n], right[n])
        return np.asarray(self.leaf)[node]


class ErrorEstimate(BaseModel):
    """Expected MAE and RMSE on rows without labels, with their intervals."""

    mae: float
    mae_low: float
    mae_high: float
    rmse: float
    rmse_low: float
    rmse_high: float
    rows: int
    confidence_level: float = 0.95


def estimate_error(
    model: LossModel, frame: Any, predicted: Any, *, confidence_level: float = 0.95
) -> ErrorEstimate | None:
    """The expected MAE and RMSE of `predicted` on the rows of `frame`; None when the loss
    model is not usable or no row has a prediction."""
    from scipy.stats import norm

    if not model.usable:
        return None
    predicted = np.asarray(predicted, dtype=float)
    keep = np.isfinite(predicted)
    if not keep.any():
        return None
    at = model.leaves(frame[keep], predicted[keep])
    n = len(at)
    counts = np.asarray(model.counts, dtype=float)
    weights = np.bincount(at, minlength=len(counts)) / n
    z = float(norm.ppf(0.5 + confidence_level / 2))

    def interval(mean: Any, second: Any) -> tuple[float, float]:
        """The expected value of the window and the half width of its interval: the
        window's draw from each leaf, plus each leaf's figure measured on its rows."""
        spread = np.maximum(np.asarray(second) - np.asarray(mean) ** 2, 0.0)
        expected = float((weights * mean).sum())
        variance = float((weights * spread).sum()) / n + float((weights**2 * spread / counts).sum())
        return expected, z * math.sqrt(variance)

    mae, mae_half = interval(np.asarray(model.absolute), model.squared)
    mse, mse_half = interval(np.asarray(model.squared), model.fourth)
    return ErrorEstimate(
        mae=mae,
        mae_low=max(0.0, mae - mae_half),
        mae_high=mae + mae_half,
        rmse=math.sqrt(mse),
        rmse_low=math.sqrt(max(0.0, mse - mse_half)),
        rmse_high=math.sqrt(mse + mse_half),
        rows=n,
        confidence_level=confidence_level,
    )
