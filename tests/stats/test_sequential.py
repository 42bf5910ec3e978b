"""The mixture SPRT: its interval stays valid however often it is looked at.

Simulations with a fixed seed: equal arms looked at after every batch, as an
A/B rollout looks after every interval. The mSPRT's false rejections stay at
or below alpha; a t-test repeated at every look rejects several times as often.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mlgate.stats.sequential import msprt, msprt_paired

ALPHA = 0.05
SIMULATIONS, LOOKS = 300, 50

Array = np.ndarray[Any, Any]


def cumulative(rng: np.random.Generator, p: float, batch: int) -> Array:
    """Successes so far at each look, per simulation (SIMULATIONS x LOOKS)."""
    return rng.binomial(batch, p, (SIMULATIONS, LOOKS)).cumsum(axis=1)


def ever_misses(
    baseline: Array, baseline_batch: int, candidate: Array, candidate_batch: int, truth: float
) -> Array:
    """Per simulation: whether the interval missed `truth` at any look."""
    missed = np.zeros(SIMULATIONS, dtype=bool)
    for look in range(LOOKS):
        n_a, n_b = (look + 1) * baseline_batch, (look + 1) * candidate_batch
        for s in range(SIMULATIONS):
            result = msprt(int(baseline[s, look]), n_a, int(candidate[s, look]), n_b, alpha=ALPHA)
            if not result.low <= truth <= result.high:
                missed[s] = True
    return missed


def repeated_t_test(baseline: Array, candidate: Array, batch: int) -> Array:
    """Per simulation: whether scipy's two-sample t-test on the 0/1 outcomes, run at every
    look, was ever 'significant' at ALPHA."""
    rejected = np.zeros(SIMULATIONS, dtype=bool)
    for look in range(LOOKS):
        n = (look + 1) * batch
        mean_a, mean_b = baseline[:, look] / n, candidate[:, look] / n
        # The sample standard deviation of n outcomes of 0 and 1 with this mean.
        sd_a = np.sqrt(mean_a * (1 - mean_a) * n / (n - 1))
        sd_b = np.sqrt(mean_b * (1 - mean_b) * n / (n - 1))
        with np.errstate(divide="ignore", invalid="ignore"):  # two constant arms: no test
            p = stats.ttest_ind_from_stats(mean_a, sd_a, n, mean_b, sd_b, n).pvalue
        rejected |= p <= ALPHA
    return rejected


def test_equal_arms_looked_at_fifty_times_are_rejected_at_most_alpha() -> None:
    rng = np.random.default_rng(2024)
    batch, accuracy = 20, 0.8
    champion, challenger = cumulative(rng, accuracy, batch), cumulative(rng, accuracy, batch)

    msprt_rate = ever_misses(champion, batch, challenger, batch, 0.0).mean()
    t_test_rate = repeated_t_test(champion, challenger, batch).mean()

    # Measured with this seed: mSPRT 0.003 (1 of 300); the repeated t-test 0.287 (86 of 300).
    assert msprt_rate <= ALPHA
    assert t_test_rate >= 4 * ALPHA
    print(f"false rejections over {LOOKS} looks: mSPRT {msprt_rate:.3f}, t-test {t_test_rate:.3f}")


def test_the_interval_covers_a_real_difference_at_every_look() -> None:
    rng = np.random.default_rng(7)
    champion, challenger = cumulative(rng, 0.80, 30), cumulative(rng, 0.75, 10)
    assert ever_misses(champion, 30, challenger, 10, -0.05).mean() <= ALPHA


def test_a_real_difference_is_found() -> None:
    rng = np.random.default_rng(11)
    champion, challenger = cumulative(rng, 0.85, 20), cumulative(rng, 0.70, 20)
    final = [
        msprt(int(champion[s, -1]), 1000, int(challenger[s, -1]), 1000) for s in range(SIMULATIONS)
    ]
    assert np.mean([r.high < 0 for r in final]) >= 0.95


def test_the_interval_shrinks_as_n_grows() -> None:
    widths = [
        (r.high - r.low)
        for n in (10, 100, 1_000, 10_000, 100_000)
        for r in [msprt(int(0.8 * n), n, int(0.8 * n), n)]
    ]
    assert all(b < a for a, b in itertools.pairwise(widths))
    assert widths[0] == 2.0  # [-1, 1]: ten rows a side say nothing
    assert widths[-1] < 0.02


def test_no_data_says_nothing() -> None:
    for result in (msprt(0, 0, 0, 0), msprt(50, 100, 0, 0), msprt(0, 0, 50, 100)):
        assert (result.difference, result.low, result.high, result.p_value) == (0.0, -1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("baseline", "candidate"),
    [((0, 10), (0, 10)), ((10, 10), (10, 10)), ((0, 10), (10, 10)), ((10, 10), (0, 10))],
)
def test_rates_of_zero_and_one_give_a_finite_honest_interval(
    baseline: tuple[int, int], candidate: tuple[int, int]
) -> None:
    result = msprt(*baseline, *candidate)
    assert all(math.isfinite(v) for v in (result.low, result.high, result.p_value))
    assert -1.0 <= result.low <= result.difference <= result.high <= 1.0
    # Ten all-correct rows against ten all-correct rows prove nothing either way.
    assert result.high - result.low > 0.5


def test_ten_against_ten_opposite_rates_is_evidence() -> None:
    result = msprt(0, 10, 10, 10)
    assert result.low > 0
    assert result.p_value < ALPHA


@given(
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_the_p_value_and_the_interval_agree(a: tuple[int, int], b: tuple[int, int]) -> None:
    result = msprt(a[0], a[1], b[0], b[1], alpha=ALPHA)
    excludes_zero = not result.low <= 0.0 <= result.high
    if abs(result.p_value - ALPHA) > 1e-9:
        assert excludes_zero == (result.p_value < ALPHA)
    swapped = msprt(b[0], b[1], a[0], a[1], alpha=ALPHA)
    assert swapped.difference == pytest.approx(-result.difference)
    assert swapped.low == pytest.approx(-result.high)
    assert swapped.p_value == pytest.approx(result.p_value)


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (
            (11, 10, 5, 10),
            {},
            "baseline_successes must be between 0 and baseline_n, and "
            "baseline_n at least 0; got 11 of 10",
        ),
        (
            (5, 10, -1, 10),
            {},
            "candidate_successes must be between 0 and candidate_n, and "
            "candidate_n at least 0; got -1 of 10",
        ),
        (
            (0, -1, 0, 10),
            {},
            "baseline_successes must be between 0 and baseline_n, and "
            "baseline_n at least 0; got 0 of -1",
        ),
        ((5, 10, 5, 10), {"alpha": 1.0}, "alpha must be between 0 and 1 (exclusive); got 1.0"),
        ((5, 10, 5, 10), {"tau": 0.0}, "tau must be positive; got 0.0"),
    ],
)
def test_impossible_counts_are_refused(
    args: tuple[int, int, int, int], options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        msprt(*args, **options)


# --- paired rows: both versions answered the same requests ------------------------------


def paired_counts(rng: np.random.Generator, only: tuple[float, float], batch: int) -> Array:
    """Rows only the baseline / only the candidate got right so far, at each look
    (SIMULATIONS x LOOKS x 2)."""
    shares = [only[0], only[1], 1.0 - sum(only)]
    drawn = rng.multinomial(batch, shares, size=(SIMULATIONS, LOOKS))[..., :2]
    return np.asarray(drawn.cumsum(axis=1))


def test_equal_paired_versions_looked_at_fifty_times_are_rejected_at_most_alpha() -> None:
    rng = np.random.default_rng(20261205)
    counts = paired_counts(rng, (0.05, 0.05), 40)
    rejected = 0
    for sim in range(SIMULATIONS):
        for look in range(LOOKS):
            worse, better = (int(v) for v in counts[sim, look])
            result = msprt_paired(40 * (look + 1), worse, better, alpha=ALPHA)
            if result.low > 0 or result.high < 0:
                rejected += 1
                break
    assert rejected / SIMULATIONS <= ALPHA


def test_paired_rows_judge_a_difference_far_sooner_than_two_samples() -> None:
    # 2,000 rows: the candidate is right on 60 rows the baseline misses and wrong on 20 it
    # gets right (+0.02); as two independent samples of 0.85 and 0.87 that is noise.
    paired = msprt_paired(2000, 20, 60, alpha=ALPHA)
    apart = msprt(1700, 2000, 1740, 2000, alpha=ALPHA)
    assert paired.difference == pytest.approx(apart.difference) == pytest.approx(0.02)
    assert paired.low > 0.0 > apart.low
    assert paired.high - paired.low < (apart.high - apart.low) / 2


def test_paired_rows_that_never_differ_give_a_narrow_honest_interval() -> None:
    result = msprt_paired(1000, 0, 0, alpha=ALPHA)
    assert result.difference == 0.0
    assert -0.02 < result.low < 0.0 < result.high < 0.02
    assert msprt_paired(0, 0, 0).model_dump(include={"low", "high", "p_value"}) == {
        "low": -1.0,
        "high": 1.0,
        "p_value": 1.0,
    }


def test_impossible_paired_counts_are_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"^rows must be at least 0 and baseline_only \+ candidate_only \(each at least "
        r"0\) at most rows; got 6 \+ 5 of 10$",
    ):
        msprt_paired(10, 6, 5)
