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
        data = np.sort(data[np.isfinite(data)], kind="stable")
        return cls(
            sorted=data,
            count=int(data.size),
            mean=float(data.mean()) if data.size else float("nan"),
            std=float(data.std()) if data.size else float("nan"),
        )


@dataclass(frozen=True)
class CategoricalSample:
    """A categorical column as counts per category."""

    counts: dict[str, int]

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
            f"unknown drift test {name!r}",
            allowed=", ".join(available_tests()),
            show_value=False,
        )
    return found


def ks_statistic(reference: Array, current: Array) -> float:
    """The two-sample Kolmogorov–Smirnov statistic of two sorted arrays (scipy's D)."""
    both = np.concatenate([reference, current])
    cdf_ref = np.searchsorted(reference, both, side="right") / reference.size
    cdf_cur = np.searchsorted(current, both, side="right") / current.size
    return float(np.max(np.abs(cdf_ref - cdf_cur)))


def _ks(reference: NumericSample, current: NumericSample, alpha: float) -> TestOutcome:
    from scipy.stats import kstwo

    if reference.count == 0 or current.count == 0:
        return TestOutcome(0.0, 1.0, False, alpha)
    d = ks_statistic(reference.sorted, current.sorted)
    n = reference.count * current.count / (reference.count + current.count)
    p = float(kstwo.sf(d, np.round(n))) if n >= 1 else 1.0
    return TestOutcome(d, min(max(p, 0.0), 1.0), p < alpha, alpha)


def _quantiles(sample: NumericSample, grid: Array) -> Array:
    data = sample.sorted
    positions = grid * (data.size - 1)
    return np.asarray(np.interp(positions, np.arange(data.size), data))


#: Quantile levels the Wasserstein distance integrates over.
GRID = (np.arange(4096) + 0.5) / 4096


def _wasserstein(reference: NumericSample, current: NumericSample, threshold: float) -> TestOutcome:
    if reference.count == 0 or current.count == 0:
        return TestOutcome(0.0, None, False, threshold)
    distance = float(np.mean(np.abs(_quantiles(reference, GRID) - _quantiles(current, GRID))))
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
