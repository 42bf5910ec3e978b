"""The drift test registry: one statistic per column, chosen by type and sample size.

Small samples get a hypothesis test (Kolmogorov–Smirnov, chi-square) whose
p-values are corrected for testing many columns at once. Large samples get an
effect size with a threshold (normalised Wasserstein distance, Jensen–Shannon
distance), because with a million rows every p-value is tiny and "significant"
stops meaning "matters". Every test works on sorted arrays or category counts,
so a reference can be a stored profile rather than the raw training data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mlgate.errors import ConfigError

__all__ = [
    "CategoricalSample",
    "NumericSample",
    "StatTest",
    "TestOutcome",
    "available_tests",
    "get_test",
    "ks_statistic",
    "register_test",
    "wasserstein_distance",
]

Array = np.ndarray[Any, Any]
Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class NumericSample:
    """A numeric column as a sorted array of its finite values, with its true size."""

    sorted: Array
    count: int
    mean: float
    std: float

    @classmethod
    def of(cls, values: Array) -> NumericSample:
        """Sort the finite values of `values`."""
        data = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(data)
        if not finite.all():  # else no masked copy: sorting copies anyway
            data = data[finite]
        data = np.sort(data)  # values only: stability buys nothing
        return cls(
            sorted=data,
            count=int(data.size),
            mean=float(data.mean()) if data.size else float("nan"),
            std=float(data.std()) if data.size else float("nan"),
        )

    @property
    def is_sketch(self) -> bool:
        """Whether `sorted` holds a profile's order statistics rather than every value."""
        return 1 < self.sorted.size < self.count

    def cdf(self, points: Array, side: Literal["left", "right"] = "right") -> Array:
        """The share of values at or below each point (`side="left"`: strictly below).

        Raw data has the step CDF of its values. A sketch has the piecewise-linear
        CDF through its order statistics (the quantile function that interpolates
        them), which is within one sketch step of the data's everywhere and spreads
        each step's rows between its two ends instead of piling them on one.
        """
        data = self.sorted
        index = np.searchsorted(data, points, side=side)
        if not self.is_sketch:
            return np.asarray(index / data.size)
        last = data.size - 1
        lower = np.clip(index - 1, 0, last)
        upper = np.clip(index, 0, last)
        width = data[upper] - data[lower]
        inside = width > 0
        fraction = np.where(inside, (points - data[lower]) / np.where(inside, width, 1.0), 0.0)
        levels = (lower + fraction) / last
        return np.asarray(np.where(index == 0, 0.0, np.where(index > last, 1.0, levels)))


@dataclass(frozen=True)
class CategoricalSample:
    """A categorical column as counts per category (categories as text)."""

    counts: dict[str, int]

    @classmethod
    def of(cls, values: Any) -> CategoricalSample:
        """Count the non-missing values of `values`, each category named by its text.

        Whole numbers stored as floats (integer codes in a column with gaps, as
        CSV readers give them) are named as integers, so that 1 and 1.0 are one
        category on both sides.
        """
        import pandas as pd

        series = pd.Series(values).dropna()
        if pd.api.types.is_float_dtype(series):
            whole = (series == series.round()) & (series.abs() < 2.0**53)
            if bool(whole.all()):
                series = series.astype("int64")
        counts = series.astype(str).value_counts()
        return cls({str(k): int(v) for k, v in counts.items()})

    @property
    def count(self) -> int:
        """Rows counted."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class TestOutcome:
    """A test's statistic, its p-value when it has one, and the raw verdict."""

    statistic: float
    p_value: float | None
    drifted: bool
    threshold: float


@dataclass(frozen=True)
class StatTest:
    """A named drift test for one kind of column."""

    name: str
    kind: Kind
    uses_p_value: bool
    default_threshold: float
    run: Callable[[Any, Any, float], TestOutcome]
    description: str


_REGISTRY: dict[str, StatTest] = {}


def register_test(test: StatTest) -> StatTest:
    """Add a test to the registry (a later one with the same name replaces it)."""
    _REGISTRY[test.name] = test
    return test


def available_tests(kind: Kind | None = None) -> list[str]:
    """Names of the registered tests, optionally of one kind."""
    return [t.name for t in _REGISTRY.values() if kind is None or t.kind == kind]


def get_test(name: str) -> StatTest:
    """The test called `name`, or a ConfigError listing the ones there are."""
    found = _REGISTRY.get(name)
    if found is None:
        raise ConfigError(
            f"unknown drift test {name!r}.",
            allowed=", ".join(available_tests()),
            fix="Register a test of your own with mlgate.drift.register_test before using it.",
            show_value=False,
        )
    return found


def ks_statistic(reference: Array, current: Array) -> float:
    """The two-sample Kolmogorov–Smirnov statistic of two sorted arrays (scipy's D)."""
    both = np.concatenate([reference, current])
    cdf_ref = np.searchsorted(reference, both, side="right") / reference.size
    cdf_cur = np.searchsorted(current, both, side="right") / current.size
    return float(np.max(np.abs(cdf_ref - cdf_cur)))


def _ks_distance(reference: NumericSample, current: NumericSample) -> float:
    """The largest gap between the two CDFs, sketches included."""
    if not (reference.is_sketch or current.is_sketch):
        return ks_statistic(reference.sorted, current.sorted)
    # Between consecutive points both CDFs are linear (or flat), so the gap is
    # largest at a point: on its right-hand value or on its left limit.
    both = np.concatenate([reference.sorted, current.sorted])
    right = np.abs(reference.cdf(both) - current.cdf(both))
    left = np.abs(reference.cdf(both, "left") - current.cdf(both, "left"))
    return float(max(right.max(), left.max()))


def _ks(reference: NumericSample, current: NumericSample, alpha: float) -> TestOutcome:
    from scipy.stats import kstwo

    if reference.count == 0 or current.count == 0:
        return TestOutcome(0.0, 1.0, False, alpha)
    d = _ks_distance(reference, current)
    n = reference.count * current.count / (reference.count + current.count)
    p = float(kstwo.sf(d, np.round(n))) if n >= 1 else 1.0
    return TestOutcome(d, min(max(p, 0.0), 1.0), p < alpha, alpha)


def _quantiles(sample: NumericSample, grid: Array) -> Array:
    data = sample.sorted
    positions = grid * (data.size - 1)
    return np.asarray(np.interp(positions, np.arange(data.size), data))


#: Quantile-grid points per block in `wasserstein_distance`, to bound its temporaries.
_BLOCK = 1 << 20


def wasserstein_distance(reference: Array, current: Array) -> float:
    """The Wasserstein-1 distance of two sorted arrays' empirical distributions (scipy's).

    Computed as the area between the two quantile functions, which equals scipy's
    area between the CDFs, in linear time: no merge sort and no search. With n and
    m values, both quantile functions are steps on the grid of multiples of 1/n and
    1/m; in units of 1/(n*m) those are i*m and j*n, and their merged order is known
    in closed form, so each interval pairs reference[t // m] with current[t // n].
    """
    n, m = reference.size, current.size
    if n == m:
        gap = reference - current
        return float(np.abs(gap, out=gap).mean())
    if n * m >= 1 << 62:  # the integer grid would overflow; scipy's way, by CDFs
        both = np.sort(np.concatenate([reference, current]), kind="stable")
        cdf_ref = np.searchsorted(reference, both[:-1], side="right") / n
        cdf_cur = np.searchsorted(current, both[:-1], side="right") / m
        return float(np.sum(np.abs(cdf_ref - cdf_cur) * np.diff(both)))
    i, j = np.arange(n, dtype=np.int64), np.arange(m, dtype=np.int64)
    grid = np.empty(n + m + 1, dtype=np.int64)
    # i*m goes after the j*n at or below it, j*n after the i*m strictly below it.
    grid[i + (i * m) // n + 1] = i * m
    grid[j + -(-(j * n) // m)] = j * n
    grid[-1] = n * m
    del i, j
    total = 0.0
    for start in range(0, n + m, _BLOCK):
        points = grid[start : start + _BLOCK + 1]
        left = points[:-1]
        gap = np.abs(reference[left // m] - current[left // n])
        total += float(np.dot(np.diff(points).astype(np.float64), gap))
    return total / (n * m)


def _wasserstein_samples(reference: NumericSample, current: NumericSample) -> float:
    """The area between the two CDFs, sketches included."""
    if not (reference.is_sketch or current.is_sketch):
        return wasserstein_distance(reference.sorted, current.sorted)
    both = np.sort(np.concatenate([reference.sorted, current.sorted]), kind="stable")
    start, end = both[:-1], both[1:]
    # The gap is linear between consecutive points: from its value at the start
    # to its left limit at the end; integrate |gap| exactly, sign change included.
    g0 = reference.cdf(start) - current.cdf(start)
    g1 = reference.cdf(end, "left") - current.cdf(end, "left")
    a0, a1 = np.abs(g0), np.abs(g1)
    total = a0 + a1
    same_sign = g0 * g1 >= 0
    mean_gap = np.where(
        same_sign, total / 2, (g0 * g0 + g1 * g1) / (2 * np.where(total > 0, total, 1.0))
    )
    return float(np.sum(mean_gap * (end - start)))


def _wasserstein(reference: NumericSample, current: NumericSample, threshold: float) -> TestOutcome:
    if reference.count == 0 or current.count == 0:
        return TestOutcome(0.0, None, False, threshold)
    distance = _wasserstein_samples(reference, current)
    scale = reference.std if reference.std > 0 else max(abs(reference.mean), 1.0)
    score = distance / scale
    return TestOutcome(score, None, score > threshold, threshold)


def _aligned(reference: CategoricalSample, current: CategoricalSample) -> tuple[Array, Array]:
    keys = sorted(set(reference.counts) | set(current.counts))
    ref = np.array([reference.counts.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([current.counts.get(k, 0) for k in keys], dtype=np.float64)
    return ref, cur


def _chi2(reference: CategoricalSample, current: CategoricalSample, alpha: float) -> TestOutcome:
    from scipy.stats import chi2_contingency

    ref, cur = _aligned(reference, current)
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    if table.shape[1] < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return TestOutcome(0.0, 1.0, False, alpha)
    statistic, p, _, _ = chi2_contingency(table, correction=False)
    return TestOutcome(float(statistic), float(p), float(p) < alpha, alpha)


def _jensen_shannon(
    reference: CategoricalSample, current: CategoricalSample, threshold: float
) -> TestOutcome:
    ref, cur = _aligned(reference, current)
    if ref.sum() == 0 or cur.sum() == 0:
        return TestOutcome(0.0, None, False, threshold)
    p, q = ref / ref.sum(), cur / cur.sum()
    m = (p + q) / 2

    def kl(a: Array, b: Array) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    distance = float(np.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2)))
    return TestOutcome(distance, None, distance > threshold, threshold)


def _psi(reference: NumericSample, current: NumericSample, threshold: float) -> TestOutcome:
    if reference.count == 0 or current.count == 0:
        return TestOutcome(0.0, None, False, threshold)
    edges = np.unique(_quantiles(reference, np.linspace(0, 1, 11)[1:-1]))
    ref_bins = np.bincount(
        np.searchsorted(edges, reference.sorted, side="right"), minlength=edges.size + 1
    )
    cur_bins = np.bincount(
        np.searchsorted(edges, current.sorted, side="right"), minlength=edges.size + 1
    )
    p = np.clip(ref_bins / ref_bins.sum(), 1e-6, None)
    q = np.clip(cur_bins / cur_bins.sum(), 1e-6, None)
    score = float(np.sum((q - p) * np.log(q / p)))
    return TestOutcome(score, None, score > threshold, threshold)


for _test in (
    StatTest("ks", "numeric", True, 0.05, _ks, "Kolmogorov–Smirnov two-sample test (p-value)"),
    StatTest(
        "wasserstein",
        "numeric",
        False,
        0.05,
        _wasserstein,
        "Wasserstein distance divided by the reference's standard deviation",
    ),
    StatTest(
        "psi", "numeric", False, 0.1, _psi, "Population stability index on 10 reference deciles"
    ),
    StatTest(
        "chi2", "categorical", True, 0.05, _chi2, "Chi-square test of the category counts (p-value)"
    ),
    StatTest(
        "jensen_shannon",
        "categorical",
        False,
        0.1,
        _jensen_shannon,
        "Jensen–Shannon distance of the category shares (base 2, 0 to 1)",
    ),
):
    register_test(_test)
