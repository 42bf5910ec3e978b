"""The paired bootstrap scores exactly what scikit-learn scores, and its interval is honest."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from mlgate.stats import paired
from mlgate.stats.paired import mcnemar_exact, paired_bootstrap, supports_bootstrap

Array = np.ndarray[Any, Any]

CLASSIFICATION = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
]
REGRESSION = ["rmse", "mae", "r2"]


def sklearn_score(metric: str, y: Array, pred: Array, proba: Array | None, labels: Array) -> float:
    """The metric as scikit-learn computes it, with mlgate's registry's arguments."""
    with warnings.catch_warnings():
        # e.g. balanced_accuracy's "y_pred contains classes not in y_true"
        warnings.simplefilter("ignore")
        if metric == "accuracy":
            return float(skm.accuracy_score(y, pred))
        if metric == "balanced_accuracy":
            return float(skm.balanced_accuracy_score(y, pred))
        if metric in ("precision", "recall", "f1"):
            fn = getattr(skm, f"{metric}_score")
            return float(fn(y, pred, average="weighted", zero_division=0))
        if metric.endswith("_macro"):
            fn = getattr(skm, f"{metric.removesuffix('_macro')}_score")
            return float(fn(y, pred, average="macro", zero_division=0))
        if metric == "roc_auc":
            if len(labels) == 2:
                return float(skm.roc_auc_score(y, proba[:, 1]))  # type: ignore[index]
            return float(
                skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=labels)
            )
        if metric == "log_loss":
            return float(skm.log_loss(y, proba, labels=labels))
        if metric == "rmse":
            return float(skm.root_mean_squared_error(y, pred))
        if metric == "mae":
            return float(skm.mean_absolute_error(y, pred))
        return float(skm.r2_score(y, pred))


def mlgate_on_rows(
    metric: str,
    y: Array,
    base: tuple[Array, Array | None],
    cand: tuple[Array, Array | None],
    labels: Array | None,
    rows: Array,
) -> tuple[float, float]:
    """Both models' metric on the rows `rows` (with repeats), through the bootstrap's own path."""
    counts, group, base_scorer, cand_scorer = paired._paired_scorers(metric, y, base, cand, labels)
    row_weights = np.bincount(rows, minlength=len(y)).astype(np.float64)
    weights = np.bincount(group, weights=row_weights, minlength=len(counts))[None, :]
    return float(base_scorer(weights)[0]), float(cand_scorer(weights)[0])


def check_equal(
    metric: str,
    y: Array,
    base: tuple[Array, Array | None],
    cand: tuple[Array, Array | None],
    labels: Array,
    rows: Array,
) -> None:
    got = mlgate_on_rows(metric, y, base, cand, labels, rows)
    want = tuple(
        sklearn_score(metric, y[rows], pred[rows], None if proba is None else proba[rows], labels)
        for pred, proba in (base, cand)
    )
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def classification_case(labels: Array, rows: int, seed: int) -> tuple[Array, Any, Any]:
    """Truth and two imperfect models (predictions with probabilities) over `labels`."""
    rng = np.random.default_rng(seed)
    k = len(labels)
    y_index = rng.integers(0, k, rows)
    models = []
    for strength in (2.0, 1.0):
        logits = rng.normal(size=(rows, k))
        logits[np.arange(rows), y_index] += strength
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        models.append((labels[proba.argmax(axis=1)], proba))
    return labels[y_index], models[0], models[1]


CLASSIFICATION_CASES = {
    "binary ints": np.array([0, 1]),
    "binary strings": np.array(["no", "yes"], dtype=object),
    "multiclass ints": np.array([0, 1, 2, 3]),
    "multiclass strings": np.array(["bird", "cat", "dog"]),
}


@pytest.mark.parametrize("metric", CLASSIFICATION)
@pytest.mark.parametrize("case", sorted(CLASSIFICATION_CASES))
def test_classification_metrics_equal_sklearn_on_full_data_and_a_resample(
    metric: str, case: str
) -> None:
    labels = CLASSIFICATION_CASES[case]
    y, base, cand = classification_case(labels, rows=150, seed=1)
    every = np.arange(len(y))
    check_equal(metric, y, base, cand, labels, every)
    resample = np.random.default_rng(2).integers(0, len(y), len(y))
    check_equal(metric, y, base, cand, labels, resample)
    interval = paired_bootstrap(metric, y, base, cand, labels, resamples=50)
    want = sklearn_score(metric, y, cand[0], cand[1], labels) - sklearn_score(
        metric, y, base[0], base[1], labels
    )
    assert interval.difference == pytest.approx(want, rel=1e-9, abs=1e-12)


def regression_case(rows: int, seed: int, offset: float = 0.0) -> tuple[Array, Any, Any]:
    rng = np.random.default_rng(seed)
    y = offset + rng.normal(size=rows)
    return y, (y + rng.normal(0, 0.5, rows), None), (y + rng.normal(0.1, 0.6, rows), None)


@pytest.mark.parametrize("metric", REGRESSION)
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_regression_metrics_equal_sklearn_on_full_data_and_a_resample(
    metric: str, offset: float
) -> None:
    # a large offset with a small spread is where a naive sum-of-squares R² cancels
    y, base, cand = regression_case(rows=120, seed=3, offset=offset)
    labels = np.unique(y)
    check_equal(metric, y, base, cand, labels, np.arange(len(y)))
    check_equal(metric, y, base, cand, labels, np.random.default_rng(4).integers(0, 120, 120))


def test_r2_of_a_constant_truth_follows_sklearn_force_finite() -> None:
    y = np.full(10, 3.0)
    exact, off = (y.copy(), None), (y + 1.0, None)
    assert mlgate_on_rows("r2", y, exact, off, None, np.arange(10)) == (1.0, 0.0)
    assert sklearn_score("r2", y, y, None, y) == 1.0
    assert sklearn_score("r2", y, y + 1.0, None, y) == 0.0


def test_a_prediction_outside_the_truths_labels_is_not_taken_for_another_label() -> None:
    # The first label used to stand in for unknown predictions, making "c" right for "a".
    y = np.array(["a", "a", "b", "b"])
    base = (np.array(["c", "a", "b", "b"]), None)
    cand = (np.array(["a", "a", "c", "b"]), None)
    for metric in ("accuracy", "balanced_accuracy", "f1", "f1_macro", "precision_macro"):
        check_equal(metric, y, base, cand, np.array(["a", "b"]), np.arange(4))


def test_log_loss_clips_certain_probabilities_as_sklearn_does() -> None:
    # sklearn clips to [eps, 1 - eps] of float64; a certain wrong answer costs -log(eps)
    y = np.array(["a", "b", "b"])
    sure = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    hedged = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    base, cand = (np.array(["a", "b", "a"]), sure), (np.array(["a", "b", "a"]), hedged)
    check_equal("log_loss", y, base, cand, np.array(["a", "b"]), np.arange(3))


def label_arrays(draw: st.DrawFn) -> tuple[Array, Array, Array, Array, Array, Array, Array]:
    """Truth, two models' predictions and probabilities, labels, and a resample of rows."""
    k = draw(st.integers(2, 4))
    as_text = draw(st.booleans())
    labels = np.array([f"c{i}" for i in range(k)]) if as_text else np.arange(k) * 10
    rows = draw(st.integers(2, 40))
    index = st.lists(st.integers(0, k - 1), min_size=rows, max_size=rows)
    y, p1, p2 = (labels[np.array(draw(index))] for _ in range(3))
    weights = st.lists(
        st.lists(st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0]), min_size=k, max_size=k),
        min_size=rows,
        max_size=rows,
    )
    q1, q2 = (np.array(draw(weights)) for _ in range(2))
    q1, q2 = q1 / q1.sum(axis=1, keepdims=True), q2 / q2.sum(axis=1, keepdims=True)
    resample = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=rows, max_size=rows)))
    return y, p1, p2, q1, q2, labels, resample


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), metric=st.sampled_from(CLASSIFICATION))
def test_classification_metrics_equal_sklearn_on_random_inputs(
    data: st.DataObject, metric: str
) -> None:
    y, p1, p2, q1, q2, labels, resample = data.draw(st.composite(label_arrays)())
    if metric == "roc_auc":
        # scikit-learn refuses AUC unless every label is in the truth; mlgate gives NaN
        assume(len(set(y[resample].tolist())) == len(labels))
    check_equal(metric, y, (p1, q1), (p2, q2), labels, np.arange(len(y)))
    check_equal(metric, y, (p1, q1), (p2, q2), labels, resample)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.tuples(*[st.floats(-1e3, 1e3, allow_nan=False, width=32)] * 3), min_size=2, max_size=40
    ),
    metric=st.sampled_from(REGRESSION),
    data=st.data(),
)
def test_regression_metrics_equal_sklearn_on_random_inputs(
    values: list[tuple[float, float, float]], metric: str, data: st.DataObject
) -> None:
    y, p1, p2 = (np.array(column, dtype=np.float64) for column in zip(*values, strict=True))
    n = len(y)
    resample = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n)))
    if metric == "r2":
        # near-constant truths make R² ill-conditioned in any implementation
        for rows in (np.arange(n), resample):
            spread = np.ptp(y[rows])
            assume(spread == 0 or spread > 1e-3 * max(1.0, float(np.abs(y[rows]).max())))
    check_equal(metric, y, (p1, None), (p2, None), np.unique(y), np.arange(n))
    check_equal(metric, y, (p1, None), (p2, None), np.unique(y), resample)


@pytest.mark.parametrize("metric", CLASSIFICATION)
def test_identical_models_differ_by_zero_on_every_resample(metric: str) -> None:
    labels = CLASSIFICATION_CASES["multiclass strings"]
    y, base, _ = classification_case(labels, rows=200, seed=5)
    interval = paired_bootstrap(metric, y, base, base, labels, resamples=200)
    assert (interval.difference, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert interval.resamples == 200


@pytest.mark.parametrize("metric", REGRESSION)
def test_identical_regressors_differ_by_zero(metric: str) -> None:
    y, base, _ = regression_case(rows=100, seed=6)
    interval = paired_bootstrap(metric, y, base, base, resamples=200)
    assert (interval.difference, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_every_path_is_advertised() -> None:
    for metric in [*CLASSIFICATION, *REGRESSION]:
        assert supports_bootstrap(metric)
    assert not supports_bootstrap("mape")


def coverage(draw: Callable[[np.random.Generator], tuple[float, Array, Any, Any]]) -> float:
    """Share of 300 simulated test sets whose 90% interval holds the true difference."""
    rng = np.random.default_rng(7)
    hits = 0
    for i in range(300):
        truth, y, base, cand = draw(rng)
        metric = "accuracy" if base[0].dtype.kind == "i" else "mae"
        interval = paired_bootstrap(metric, y, base, cand, resamples=500, confidence=0.90, seed=i)
        hits += interval.low <= truth <= interval.high
    return hits / 300


def test_accuracy_interval_covers_the_true_difference_at_about_the_nominal_rate() -> None:
    def draw(rng: np.random.Generator) -> tuple[float, Array, Any, Any]:
        # both right 0.80, champion only 0.04, candidate only 0.06, both wrong 0.10
        cell = rng.choice(4, size=400, p=[0.80, 0.04, 0.06, 0.10])
        y = rng.integers(0, 2, 400)
        base = np.where(cell <= 1, y, 1 - y)
        cand = np.where((cell == 0) | (cell == 2), y, 1 - y)
        return 0.02, y, (base, None), (cand, None)

    # 300 draws: a standard error of 1.7 points around 90%
    assert 0.85 <= coverage(draw) <= 0.95


def test_mae_interval_covers_the_true_difference_at_about_the_nominal_rate() -> None:
    def draw(rng: np.random.Generator) -> tuple[float, Array, Any, Any]:
        y = rng.normal(size=300)
        shared = rng.normal(size=300)
        base = y + shared + rng.normal(0, 0.5, 300)
        cand = y + shared + rng.normal(0, 1.0, 300)
        # E|N(0, s²)| = s·sqrt(2/π); the errors' variances are 1.25 and 2.0
        truth = (np.sqrt(2.0) - np.sqrt(1.25)) * np.sqrt(2 / np.pi)
        return float(truth), y, (base, None), (cand, None)

    assert 0.85 <= coverage(draw) <= 0.95


def test_weights_come_in_chunks_that_bound_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paired, "MAX_CELLS", 250)
    y, base, cand = regression_case(rows=100, seed=8)
    chunks = list(paired._weights(np.ones(100, dtype=np.int64), 7, np.random.default_rng(0)))
    assert [len(c) for c in chunks] == [2, 2, 2, 1]
    assert all((c.sum(axis=1) == 100).all() for c in chunks)
    assert paired_bootstrap("mae", y, base, cand, resamples=7).resamples == 7


def test_grouped_rows_resample_like_single_rows() -> None:
    # A 50/50 split of 1000 rows into two groups: each resample's count in the first
    # group is Binomial(1000, 0.5), as it is when rows are drawn one by one.
    counts = np.array([500, 500])
    drawn = np.concatenate(list(paired._weights(counts, 4000, np.random.default_rng(0))))
    assert drawn.sum(axis=1).tolist() == [1000.0] * 4000
    assert drawn[:, 0].mean() == pytest.approx(500, abs=1.0)
    assert drawn[:, 0].std() == pytest.approx(np.sqrt(1000 * 0.25), rel=0.05)


@pytest.mark.parametrize(("b_only", "c_only"), [(0, 0), (3, 11), (12, 12), (40, 1)])
def test_mcnemar_is_scipys_binomial_test_on_the_discordant_rows(b_only: int, c_only: int) -> None:
    both = 50
    base = np.array([True] * both + [True] * b_only + [False] * c_only + [False] * 7)
    cand = np.array([True] * both + [False] * b_only + [True] * c_only + [False] * 7)
    result = mcnemar_exact(base, cand)
    assert (result.baseline_only, result.candidate_only) == (b_only, c_only)
    want = 1.0 if b_only + c_only == 0 else binomtest(c_only, b_only + c_only, 0.5).pvalue
    assert result.p_value == pytest.approx(want, rel=1e-12)


def test_mcnemar_refuses_outcomes_of_different_lengths() -> None:
    with pytest.raises(
        ValueError,
        match=r"^McNemar's test needs one outcome per row for both models; got \(3,\) and \(2,\)$",
    ):
        mcnemar_exact(np.ones(3, dtype=bool), np.ones(2, dtype=bool))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"y_true": np.array([0, 1, 1])},
            r"^the paired bootstrap needs the same, non-zero number of rows for the truth and "
            r"both models' predictions; got 3, 2 and 2$",
        ),
        ({"resamples": 0}, r"^resamples must be at least 1; got 0$"),
        ({"confidence": 1.0}, r"^confidence must be in \(0, 1\); got 1\.0$"),
        ({"metric": "log_loss"}, r"^log_loss needs predicted probabilities$"),
        (
            {"metric": "mape"},
            r"^no bootstrap path for metric 'mape'; known: accuracy, balanced_accuracy, f1, "
            r"f1_macro, log_loss, mae, precision, precision_macro, r2, recall, recall_macro, "
            r"rmse, roc_auc$",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "metric": "accuracy",
        "y_true": np.array([0, 1]),
        "baseline": (np.array([0, 1]), None),
        "candidate": (np.array([1, 1]), None),
    } | kwargs
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(**arguments)


def test_log_loss_refuses_a_true_label_without_a_probability_column() -> None:
    proba = np.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])
    with pytest.raises(
        ValueError,
        match=r"^log_loss needs every true label among the probability columns \['a', 'b'\]; "
        r"got \['z'\]$",
    ):
        paired_bootstrap(
            "log_loss",
            np.array(["a", "b", "z"]),
            (np.array(["a", "b", "a"]), proba),
            (np.array(["a", "b", "a"]), proba),
            np.array(["a", "b"]),
        )
