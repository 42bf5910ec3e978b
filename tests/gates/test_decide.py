"""The champion-vs-candidate verdict: each rule, each direction, every reason."""

from __future__ import annotations

from typing import Any

import pytest

from mlgate.config.models import GatesConfig
from mlgate.gates.compare import Comparison, MetricComparison, SliceComparison
from mlgate.gates.decide import Loss, _judge, decide, loss_of

GREATER_IS_BETTER = {"accuracy": True, "f1": True, "r2": True, "log_loss": False, "rmse": False}
RULES = ("point", "non_inferiority", "significant_regression")


def entry(
    metric: str,
    baseline: float | None,
    candidate: float | None,
    interval: tuple[float, float] | None = None,
) -> MetricComparison:
    """A comparison of one metric; `interval` is of candidate - baseline."""
    difference = None if baseline is None or candidate is None else candidate - baseline
    return MetricComparison(
        metric=metric,
        baseline=baseline,
        candidate=candidate,
        difference=difference,
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        confidence=0.95 if interval else None,
        greater_is_better=GREATER_IS_BETTER[metric],
    )


def comparison(*metrics: MetricComparison, slices: list[SliceComparison] | None = None) -> Any:
    return Comparison(
        baseline={m.metric: m.baseline for m in metrics},
        new={m.metric: m.candidate for m in metrics},
        training_time=1.0,
        model_size_mb=0.1,
        test_samples=1000,
        task="classification",
        baseline_ref="m@champion",
        candidate_ref="m/2",
        data="test.parquet",
        metrics={m.metric: m for m in metrics},
        slices=slices or [],
    )


@pytest.mark.parametrize(
    ("metric", "baseline", "candidate", "interval", "margin", "verdicts"),
    [
        # a small loss whose interval reaches past the margin
        ("accuracy", 0.86, 0.85, (-0.03, 0.01), 0.02, (True, False, True)),
        # a loss past the margin, but not shown beyond it
        ("accuracy", 0.86, 0.83, (-0.05, -0.01), 0.02, (False, False, True)),
        # a loss shown beyond the margin
        ("accuracy", 0.90, 0.84, (-0.08, -0.04), 0.02, (False, False, False)),
        # better, shown to be no worse
        ("accuracy", 0.85, 0.86, (-0.005, 0.025), 0.02, (True, True, True)),
        # lower is better: a higher log loss is a loss
        ("log_loss", 0.30, 0.31, (-0.01, 0.03), 0.02, (True, False, True)),
        ("log_loss", 0.30, 0.35, (0.03, 0.07), 0.02, (False, False, False)),
        ("log_loss", 0.30, 0.25, (-0.07, -0.03), 0.0, (True, True, True)),
        ("rmse", 10.0, 11.5, (0.5, 2.5), 2.0, (True, False, True)),
        ("rmse", 10.0, 12.5, (1.0, 4.0), 2.0, (False, False, True)),
        ("r2", 0.70, 0.68, (-0.04, 0.0), 0.03, (True, False, True)),
    ],
)
def test_each_rule_judges_the_loss_in_the_metrics_direction(
    metric: str,
    baseline: float,
    candidate: float,
    interval: tuple[float, float],
    margin: float,
    verdicts: tuple[bool, bool, bool],
) -> None:
    loss = loss_of(entry(metric, baseline, candidate, interval))
    assert loss is not None
    assert tuple(_judge(loss, margin, rule) for rule in RULES) == verdicts


def test_the_loss_is_the_difference_turned_so_that_worse_is_positive() -> None:
    worse = loss_of(entry("accuracy", 0.9, 0.8, (-0.15, -0.05)))
    assert worse is not None
    assert (worse.point, worse.low, worse.high) == (pytest.approx(0.1), 0.05, 0.15)
    assert loss_of(entry("rmse", 3.0, 2.0, (-1.5, -0.5))) == Loss(point=-1.0, low=-1.5, high=-0.5)
    assert loss_of(entry("rmse", 3.0, None)) is None


def test_a_loss_equal_to_the_margin_passes_despite_rounding() -> None:
    # 174/200 - 170/200 is 0.020000000000000018 in floating point
    loss = loss_of(entry("accuracy", 174 / 200, 170 / 200, (-0.045, 170 / 200 - 174 / 200)))
    assert loss is not None
    assert loss.point > 0.02
    assert [_judge(loss, 0.02, rule) for rule in RULES] == [True, False, True]
    assert not _judge(Loss(point=0.0201, low=None, high=None), 0.02, "point")


@pytest.mark.parametrize("rule", RULES)
def test_without_an_interval_every_rule_judges_the_observed_loss(rule: str) -> None:
    assert _judge(Loss(point=0.01, low=None, high=None), 0.02, rule)
    assert not _judge(Loss(point=0.03, low=None, high=None), 0.02, rule)


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"^unknown regression rule 'vibes'; known: point, non_inferiority, "
        r"significant_regression$",
    ):
        _judge(Loss(point=0.0, low=None, high=None), 0.02, "vibes")


def test_decide_reports_every_check_with_its_reason() -> None:
    result = decide(
        comparison(
            entry("accuracy", 0.86, 0.85, (-0.015, -0.005)),
            entry("log_loss", 0.30, 0.36, (0.04, 0.08)),
            entry("f1", 0.80, 0.78, (-0.03, -0.01)),
        ),
        GatesConfig(
            min={"accuracy": 0.8},
            max_regression={"accuracy": 0.02, "log_loss": 0.05},
            max_relative_regression={"f1": 0.05},
            rule="non_inferiority",
        ),
    )
    assert [(c.kind, c.metric, c.passed) for c in result.checks] == [
        ("min", "accuracy", True),
        ("regression", "accuracy", True),
        ("regression", "log_loss", False),
        ("relative_regression", "f1", True),
    ]
    assert not result.passed
    reasons = [c.reason for c in result.checks[1:]]
    assert reasons == [
        "accuracy: loss against the champion +0.0100 (interval +0.0050 to +0.0150); "
        "interval's upper end +0.0150 within the allowed 0.02, non_inferiority rule",
        "log_loss: loss against the champion +0.0600 (interval +0.0400 to +0.0800); "
        "interval's upper end +0.0800 beyond the allowed 0.05, non_inferiority rule",
        "f1: loss against the champion +0.0200 (interval +0.0100 to +0.0300); "
        "interval's upper end +0.0300 within the allowed 0.04 (5% of the champion's 0.8), "
        "non_inferiority rule",
    ]
    check = result.checks[2]
    assert (check.bound, check.value, check.interval) == (0.05, pytest.approx(0.06), (0.04, 0.08))


def test_relative_regression_of_a_lower_is_better_metric_scales_with_the_champion() -> None:
    gates = GatesConfig(max_relative_regression={"rmse": 0.05})
    passed = decide(comparison(entry("rmse", 10.0, 10.4)), gates).checks[0]
    failed = decide(comparison(entry("rmse", 10.0, 10.6)), gates).checks[0]
    assert (passed.passed, passed.bound, failed.passed) == (True, 0.5, False)
    assert failed.reason == (
        "rmse: loss against the champion +0.6000; observed loss +0.6000 beyond the allowed "
        "0.5 (5% of the champion's 10), point rule"
    )


def test_the_point_rule_is_the_default_and_names_the_observed_loss() -> None:
    assert GatesConfig().rule == "point"
    check = decide(
        comparison(entry("accuracy", 0.86, 0.85, (-0.03, 0.01))),
        GatesConfig(max_regression={"accuracy": 0.02}),
    ).checks[0]
    assert check.passed
    assert check.reason == (
        "accuracy: loss against the champion +0.0100 (interval -0.0100 to +0.0300); "
        "observed loss +0.0100 within the allowed 0.02, point rule"
    )


def test_a_loss_just_past_the_margin_is_shown_with_the_digits_that_tell() -> None:
    check = decide(
        comparison(entry("accuracy", 0.86, 0.83996)),
        GatesConfig(max_regression={"accuracy": 0.02}),
    ).checks[0]
    assert not check.passed
    assert check.reason == (
        "accuracy: loss against the champion +0.020040; observed loss +0.020040 beyond the "
        "allowed 0.02, point rule"
    )


def test_an_interval_wider_than_the_margin_says_the_test_set_is_too_small() -> None:
    check = decide(
        comparison(entry("accuracy", 0.86, 0.85, (-0.05, 0.03))),
        GatesConfig(max_regression={"accuracy": 0.02}, rule="significant_regression"),
    ).checks[0]
    assert check.passed
    assert check.reason == (
        "accuracy: loss against the champion +0.0100 (interval -0.0300 to +0.0500); "
        "interval's lower end -0.0300 within the allowed 0.02, significant_regression rule; "
        "too few rows to judge reliably (interval ±0.0400, wider than the margin)"
    )


def test_slices_are_checked_against_the_slice_margin() -> None:
    slices = [
        SliceComparison(
            column="region",
            value=value,
            rows=300,
            metrics={"accuracy": entry("accuracy", 0.86, candidate)},
        )
        for value, candidate in (("north", 0.85), ("south", 0.80))
    ]
    result = decide(
        comparison(entry("accuracy", 0.86, 0.85), slices=slices),
        GatesConfig(max_regression={"accuracy": 0.02}, slice_max_regression=0.03),
    )
    assert [(c.kind, c.slice, c.bound, c.passed) for c in result.checks] == [
        ("regression", None, 0.02, True),
        ("slice_regression", "region=north", 0.03, True),
        ("slice_regression", "region=south", 0.03, False),
    ]
    assert result.checks[2].reason == (
        "accuracy on region=south: loss against the champion +0.0600; observed loss +0.0600 "
        "beyond the allowed 0.03, point rule"
    )


def test_missing_values_fail_their_check_with_the_reason() -> None:
    slices = [
        SliceComparison(
            column="region",
            value="east",
            rows=40,
            metrics={"roc_auc": entry("accuracy", 0.9, 0.9)},  # accuracy absent here
        )
    ]
    result = decide(
        comparison(
            entry("accuracy", 0.86, None),
            entry("f1", None, None),
            slices=slices,
        ),
        GatesConfig(
            max_regression={"accuracy": 0.02, "log_loss": 0.05},
            max_relative_regression={"f1": 0.1},
            slice_max_regression=0.05,
        ),
    )
    assert [(c.metric, c.passed, c.value, c.bound) for c in result.checks] == [
        ("accuracy", False, None, 0.02),
        ("log_loss", False, None, 0.05),
        ("f1", False, None, 0.1),
        ("accuracy", False, None, 0.05),
        ("log_loss", False, None, 0.05),
    ]
    assert [c.reason for c in result.checks] == [
        "accuracy: cannot compare, it is undefined for the candidate on these rows "
        "(e.g. a class the metric needs has no rows there)",
        "log_loss: cannot compare, it was not computed for both models (a metric of another "
        "task, or one that needs predicted probabilities a model lacks)",
        "f1: cannot compare, it is undefined for the champion and the candidate on these rows "
        "(e.g. a class the metric needs has no rows there)",
        "accuracy on region=east: cannot compare, it was not computed for both models (a "
        "metric of another task, or one that needs predicted probabilities a model lacks)",
        "log_loss on region=east: cannot compare, it was not computed for both models (a "
        "metric of another task, or one that needs predicted probabilities a model lacks)",
    ]
