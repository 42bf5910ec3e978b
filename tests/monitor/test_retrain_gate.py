"""The retrain gate's beat_champion: from the paired comparison the gates make, judged by
the configured rule at its end of the interval, in place of the floors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlgate.config.models import GatesConfig
from mlgate.gates.compare import Comparison, Scores, Side, compare_predictions
from mlgate.monitor.retrain_gate import beat_champion, beat_champion_verdict, floor_metrics

ROWS = 200


def _compare(
    champion_right: int, candidate_right: int, task: str = "classification", shift: int = 0
) -> Any:
    """Both models on the same ROWS rows: the champion right (or close) on its first
    `champion_right` rows, the candidate on `candidate_right` rows from row `shift` on."""
    y = np.array([0, 1] * (ROWS // 2))
    if task == "regression":
        truth = np.linspace(0.0, 10.0, ROWS)
        base = truth + np.where(np.arange(ROWS) < champion_right, 0.1, 2.0)
        cand = truth + np.where(_first(candidate_right, shift), 0.1, 2.0)
        return compare_predictions(
            "regression",
            truth,
            Scores(base),
            Scores(cand),
            labels=None,
            baseline=Side("champion", None, 0.0),
            candidate=Side("retrained", None, 0.0),
            source="recent rows",
            resamples=400,
        )
    base = np.where(np.arange(ROWS) < champion_right, y, 1 - y)
    cand = np.where(_first(candidate_right, shift), y, 1 - y)
    return compare_predictions(
        "classification",
        y,
        Scores(base),
        Scores(cand),
        labels=np.array([0, 1]),
        baseline=Side("champion", None, 0.0),
        candidate=Side("retrained", None, 0.0),
        source="recent rows",
        resamples=400,
    )


def _first(count: int, shift: int) -> Any:
    rows = np.arange(ROWS)
    return (rows >= shift) & (rows < shift + count)


def _interval(comparison: Comparison, metric: str = "accuracy") -> tuple[float, float]:
    entry = comparison.metrics[metric]
    assert entry.ci_low is not None
    assert entry.ci_high is not None
    return entry.ci_low, entry.ci_high


def test_a_gain_above_zero_beats_the_champion_by_the_point_rule() -> None:
    comparison = _compare(140, 170)
    (check,) = beat_champion(comparison, GatesConfig(min={"accuracy": 0.9}))
    low, high = _interval(comparison)
    p = comparison.metrics["accuracy"].p_value
    assert check.passed
    assert (check.metric, check.kind, check.bound) == ("accuracy", "regression", 0.0)
    assert check.value == pytest.approx(-0.15)
    assert check.reason == (
        f"accuracy: gain over the champion +0.1500 on the {ROWS} held-out recent rows "
        f"(interval {low:+.4f} to {high:+.4f}, 95%; McNemar p {p:.3g}); observed gain +0.1500 "
        "above 0, point rule: beats the champion (monitor.retrain_gate: beat_champion)"
    )


@pytest.mark.parametrize(
    ("rule", "passed", "end"),
    [
        ("point", True, None),
        ("non_inferiority", False, "low"),
        ("significant_regression", True, "high"),
    ],
)
def test_each_rule_judges_the_gain_at_its_end_of_the_interval(
    rule: str, passed: bool, end: str | None
) -> None:
    """A gain of 2 rows in 200 (12 won, 10 lost): above zero, but within the noise."""
    comparison = _compare(140, 142, shift=10)
    low, high = _interval(comparison)
    assert low < 0 < high
    (check,) = beat_champion(
        comparison, GatesConfig.model_validate({"min": {"accuracy": 0.9}, "rule": rule})
    )
    judged = {
        None: "observed gain +0.0100",
        "low": f"interval's lower end {low:+.4f}",
        "high": f"interval's upper end {high:+.4f}",
    }[end]
    assert check.passed is passed
    verdict = "above 0" if passed else "not above 0"
    beats = "beats" if passed else "does not beat"
    assert f"; {judged} {verdict}, {rule} rule: {beats} the champion " in check.reason


@pytest.mark.parametrize("rule", ["point", "non_inferiority", "significant_regression"])
def test_an_equal_model_beats_the_champion_under_no_rule(rule: str) -> None:
    (check,) = beat_champion(_compare(150, 150), GatesConfig.model_validate({"rule": rule}))
    assert not check.passed
    assert check.reason.startswith(
        f"accuracy: gain over the champion 0.0000 on the {ROWS} held-out recent rows "
        "(interval 0.0000 to 0.0000, 95%; McNemar p 1); "
    )
    assert "not above 0" in check.reason


def test_a_lower_error_is_a_gain() -> None:
    comparison = _compare(100, 160, task="regression")
    (check,) = beat_champion(comparison, GatesConfig(max={"rmse": 0.5}))
    assert check.passed
    assert check.reason.startswith("rmse: gain over the champion +")
    assert "McNemar" not in check.reason


def test_a_metric_neither_model_has_cannot_be_beaten() -> None:
    (check,) = beat_champion(_compare(140, 170), GatesConfig(min={"log_loss_x": 1.0}))
    assert not check.passed
    assert check.value is None
    assert check.reason == (
        f"log_loss_x: cannot tell whether the retrained model beats the champion on the {ROWS} "
        "held-out recent rows: the metric is undefined for one of them there "
        "(monitor.retrain_gate: beat_champion)"
    )


def test_the_verdict_keeps_every_gate_but_the_floors() -> None:
    gates = GatesConfig(
        min={"accuracy": 0.99, "f1": 0.99}, max_regression={"accuracy": 0.02}, rule="point"
    )
    verdict = beat_champion_verdict(_compare(140, 170), gates)
    assert [(c.metric, c.kind, c.bound) for c in verdict.checks] == [
        ("accuracy", "regression", 0.02),
        ("accuracy", "regression", 0.0),
        ("f1", "regression", 0.0),
    ]
    assert verdict.passed


def test_the_judged_metrics_are_the_floors_and_ceilings_else_the_tasks_own() -> None:
    gates = GatesConfig(min={"f1": 0.8, "accuracy": 0.8}, max={"log_loss": 0.5})
    assert floor_metrics(gates, "classification") == ["f1", "accuracy", "log_loss"]
    assert floor_metrics(GatesConfig(), "classification") == ["accuracy"]
    assert floor_metrics(GatesConfig(max_regression={"rmse": 1.0}), "regression") == ["rmse"]
