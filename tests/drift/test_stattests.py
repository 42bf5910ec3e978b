"""The drift tests against scipy's reference implementations, and the test registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from mlgate.drift import (
    CategoricalSample,
    NumericSample,
    StatTest,
    available_tests,
    benjamini_hochberg,
    get_test,
    register_test,
)
from mlgate.drift import (
    TestOutcome as Outcome,
)
from mlgate.errors import ConfigError

BUILT_IN = ["ks", "wasserstein", "psi", "chi2", "jensen_shannon"]

# Samples with ties (few distinct values), integers, and wide-ranging floats, 2 to 300 rows.
floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
sample = st.one_of(
    st.lists(floats, min_size=2, max_size=300),
    st.lists(st.integers(-5, 5).map(float), min_size=2, max_size=300),
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, 1e3]), min_size=2, max_size=300),
    st.lists(st.floats(0, 1).map(lambda x: round(x, 1)), min_size=2, max_size=300),
)
counts = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.integers(0, 500), min_size=1
)


def run(name: str, reference: Any, current: Any, threshold: float = 0.05) -> Outcome:
    return get_test(name).run(reference, current, threshold)


# --- numeric tests --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(sample, sample)
def test_ks_statistic_and_p_value_are_scipys(a: list[float], b: list[float]) -> None:
    outcome = run("ks", NumericSample.of(np.array(a)), NumericSample.of(np.array(b)))
    expected = scipy.stats.ks_2samp(a, b, method="asymp")
    assert outcome.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert outcome.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)
    assert outcome.drifted == (expected.pvalue < 0.05)


@settings(max_examples=300, deadline=None)
@given(sample, sample)
def test_wasserstein_is_scipys_distance_over_the_reference_std(
    a: list[float], b: list[float]
) -> None:
    outcome = run("wasserstein", NumericSample.of(np.array(a)), NumericSample.of(np.array(b)))
    std = float(np.std(a))
    scale = std if std > 0 else max(abs(float(np.mean(a))), 1.0)
    expected = scipy.stats.wasserstein_distance(a, b) / scale
    assert outcome.statistic == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert outcome.p_value is None
    assert outcome.drifted == (outcome.statistic > 0.05)


def test_wasserstein_of_a_two_point_sample_and_its_midpoint() -> None:
    """Half the mass moves by 0.5 either way: 0.5, not the 0.25 of interpolated quantiles."""
    outcome = run(
        "wasserstein", NumericSample.of(np.array([0.0, 1.0])), NumericSample.of(np.array([0.5]))
    )
    assert outcome.statistic == pytest.approx(0.5 / 0.5)


def test_numeric_samples_drop_missing_and_infinite_values() -> None:
    s = NumericSample.of(np.array([3.0, np.nan, 1.0, np.inf, -np.inf, 2.0]))
    assert s.sorted.tolist() == [1.0, 2.0, 3.0]
    assert (s.count, s.mean) == (3, 2.0)


@pytest.mark.parametrize("name", ["ks", "wasserstein", "psi"])
def test_numeric_tests_of_an_empty_side_find_nothing(name: str) -> None:
    empty, full = NumericSample.of(np.array([np.nan])), NumericSample.of(np.arange(10.0))
    assert not run(name, empty, full).drifted
    assert not run(name, full, empty).drifted


def test_psi_is_zero_for_the_same_data_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(0, 1, 20_000)
    same = run("psi", NumericSample.of(data), NumericSample.of(data), 0.1)
    small = run("psi", NumericSample.of(data), NumericSample.of(data + 0.1), 0.1)
    large = run("psi", NumericSample.of(data), NumericSample.of(data + 1.0), 0.1)
    assert same.statistic == pytest.approx(0.0, abs=1e-12)
    assert same.statistic < small.statistic < 0.1 < large.statistic
    assert large.drifted
    assert not small.drifted


# --- categorical tests ----------------------------------------------------------------------


def aligned(a: dict[str, int], b: dict[str, int]) -> tuple[np.ndarray[Any, Any], ...]:
    keys = sorted(set(a) | set(b))
    return tuple(np.array([d.get(k, 0) for k in keys], dtype=float) for d in (a, b))


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_chi_square_is_scipys_contingency_test(a: dict[str, int], b: dict[str, int]) -> None:
    """Pearson's statistic on the 2×k table, without Yates' correction (even for 2×2)."""
    outcome = run("chi2", CategoricalSample(a), CategoricalSample(b))
    ref, cur = aligned(a, b)
    table = np.vstack([ref, cur])[:, (ref + cur) > 0]
    if table.shape[1] < 2 or ref.sum() == 0 or cur.sum() == 0:
        assert (outcome.statistic, outcome.p_value, outcome.drifted) == (0.0, 1.0, False)
        return
    expected = scipy.stats.chi2_contingency(table, correction=False)
    assert outcome.statistic == pytest.approx(expected.statistic, rel=1e-9, abs=1e-9)
    assert outcome.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_jensen_shannon_is_scipys_base_2_distance(a: dict[str, int], b: dict[str, int]) -> None:
    outcome = run("jensen_shannon", CategoricalSample(a), CategoricalSample(b), 0.1)
    ref, cur = aligned(a, b)
    if ref.sum() == 0 or cur.sum() == 0:
        assert (outcome.statistic, outcome.drifted) == (0.0, False)
        return
    expected = float(jensenshannon(ref, cur, base=2))
    assert outcome.statistic == pytest.approx(expected, abs=1e-9)
    assert 0.0 <= outcome.statistic <= 1.0
    assert outcome.p_value is None


def test_categories_are_named_alike_whether_stored_as_int_or_float() -> None:
    """Integer codes in a column with gaps come back from CSV as floats: 1.0 is still '1'."""
    as_float = CategoricalSample.of(np.array([1.0, 2.0, np.nan, 2.0]))
    as_int = CategoricalSample.of(np.array([1, 2, 2]))
    assert as_float.counts == as_int.counts == {"1": 1, "2": 2}
    assert CategoricalSample.of(np.array([0.5, 1.0])).counts == {"0.5": 1, "1.0": 1}
    assert CategoricalSample.of(np.array([1.0, np.inf])).counts == {"1.0": 1, "inf": 1}
    assert CategoricalSample.of(np.array(["x", None, "y", "x"], dtype=object)).counts == {
        "x": 2,
        "y": 1,
    }


# --- multiple testing -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1) | st.sampled_from([0.0, 0.01, 0.04, 1.0]), min_size=1))
def test_benjamini_hochberg_is_scipys_false_discovery_control(p: list[float]) -> None:
    expected = scipy.stats.false_discovery_control(p, method="bh")
    assert benjamini_hochberg(p) == pytest.approx(expected.tolist(), rel=1e-12, abs=1e-15)


def test_benjamini_hochberg_of_nothing_is_nothing() -> None:
    assert benjamini_hochberg([]) == []


# --- the registry ---------------------------------------------------------------------------


def test_the_built_in_tests_by_kind() -> None:
    assert available_tests() == BUILT_IN
    assert available_tests("numeric") == ["ks", "wasserstein", "psi"]
    assert available_tests("categorical") == ["chi2", "jensen_shannon"]
    for name in BUILT_IN:
        test = get_test(name)
        assert test.name == name
        assert test.uses_p_value == (name in ("ks", "chi2"))


def test_an_unknown_test_lists_the_available_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^unknown drift test 'anderson'\. Allowed: ks, "
        r"wasserstein, psi, chi2, jensen_shannon\. Register a test of your own "
        r"with mlgate\.drift\.register_test before using it\.$",
    ):
        get_test("anderson")


def mean_shift(reference: NumericSample, current: NumericSample, threshold: float) -> Outcome:
    """Difference of means in reference standard deviations."""
    score = abs(current.mean - reference.mean) / reference.std
    return Outcome(score, None, score > threshold, threshold)


def test_a_registered_test_is_listed_and_found(registry: None) -> None:
    test = StatTest("mean_shift", "numeric", False, 0.2, mean_shift, "Mean shift in stds")
    assert register_test(test) is test
    assert get_test("mean_shift") is test
    assert available_tests("numeric") == ["ks", "wasserstein", "psi", "mean_shift"]
    assert available_tests("categorical") == ["chi2", "jensen_shannon"]
    with pytest.raises(
        ConfigError,
        match=r"Allowed: ks, wasserstein, psi, chi2, jensen_shannon, "
        r"mean_shift\.",
    ):
        get_test("nope")
