"""Absolute gates: floors and ceilings, every failing reason, and gate names checked early."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlgate.config.models import GatesConfig
from mlgate.errors import ConfigError
from mlgate.gates.absolute import check_gate_metrics, gate_absolute

CONFIG = Path("/project/mlgate.yaml")
CLASSIFICATION = (
    "accuracy, balanced_accuracy, precision, recall, f1, precision_macro, recall_macro, "
    "f1_macro, roc_auc, log_loss"
)


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def test_every_bound_met_passes() -> None:
    gates = GatesConfig(min={"accuracy": 0.8, "f1": 0.75}, max={"log_loss": 0.5})
    result = gate_absolute({"accuracy": 0.9, "f1": 0.75, "log_loss": 0.3}, gates)
    assert result.passed
    assert [c.reason for c in result.checks] == [
        "accuracy 0.9000 >= min 0.8",
        "f1 0.7500 >= min 0.75",
        "log_loss 0.3000 <= max 0.5",
    ]


def test_every_failure_is_listed_with_metric_value_and_bound() -> None:
    gates = GatesConfig(min={"accuracy": 0.95, "f1": 0.5, "roc_auc": 0.99}, max={"log_loss": 0.2})
    result = gate_absolute({"accuracy": 0.9, "f1": 0.8, "roc_auc": 0.97, "log_loss": 0.3}, gates)
    assert not result.passed
    assert [c.reason for c in result.failures] == [
        "accuracy 0.9000 < min 0.95",
        "roc_auc 0.9700 < min 0.99",
        "log_loss 0.3000 > max 0.2",
    ]
    failed = result.failures[2]
    assert (failed.metric, failed.kind, failed.value, failed.bound) == ("log_loss", "max", 0.3, 0.2)
    assert result.model_dump()["passed"] is False


def test_a_value_just_under_its_bound_does_not_print_as_equal() -> None:
    result = gate_absolute({"accuracy": 0.79996}, GatesConfig(min={"accuracy": 0.8}))
    assert result.failures[0].reason == "accuracy 0.799960 < min 0.8"


def test_no_gates_pass() -> None:
    result = gate_absolute({"accuracy": 0.1}, GatesConfig())
    assert result.passed
    assert result.checks == []


def test_a_metric_without_probabilities_fails_with_its_reason() -> None:
    result = gate_absolute({"accuracy": 0.9}, GatesConfig(min={"roc_auc": 0.8}))
    assert not result.passed
    assert result.failures[0].value is None
    assert result.failures[0].reason == (
        "roc_auc was not computed: it needs predicted probabilities, "
        "and this model has no predict_proba"
    )


def test_an_undefined_metric_fails_with_its_reason() -> None:
    result = gate_absolute({"r2": None}, GatesConfig(min={"r2": 0.1}))
    assert result.failures[0].reason == (
        "r2 is undefined on this test set (e.g. a class the metric needs has no rows there)"
    )


def test_a_gate_on_an_unknown_metric_lists_the_metrics() -> None:
    gates = GatesConfig(min={"accuracy": 0.8, "acuracy": 0.9})
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: gates.min.acuracy: unknown classification metric 'acuracy'. "
            f"Allowed: {CLASSIFICATION}. Did you mean accuracy?"
        ),
    ) as caught:
        check_gate_metrics(gates, "classification", file=CONFIG)
    assert caught.value.field == "gates.min.acuracy"


def test_a_gate_on_the_other_task_s_metric() -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            "/project/mlgate.yaml: gates.max.rmse: rmse is a regression metric, but this is a "
            f"classification task. Allowed: {CLASSIFICATION}. "
            "Gate on one of those, or set task: to match the model."
        ),
    ):
        check_gate_metrics(GatesConfig(max={"rmse": 3.0}), "classification", file=CONFIG)


def test_before_the_task_is_known_only_names_no_task_has_are_refused() -> None:
    check_gate_metrics(GatesConfig(min={"accuracy": 0.8}, max={"rmse": 3.0}), None)
    with pytest.raises(
        ConfigError,
        match="^"
        + re.escape(
            "gates.max.mse: unknown metric 'mse'. "
            f"Allowed: classification: {CLASSIFICATION}; regression: rmse, mae, r2. "
            "Did you mean rmse?"
        )
        + "$",
    ):
        check_gate_metrics(GatesConfig(max={"mse": 3.0}), None)


@given(
    value=st.floats(0, 1, allow_nan=False),
    bound=st.floats(0, 1, allow_nan=False),
    kind=st.sampled_from(["min", "max"]),
)
def test_a_check_passes_exactly_when_the_bound_holds(value: float, bound: float, kind: str) -> None:
    gates = GatesConfig(**{kind: {"accuracy": bound}})
    check = gate_absolute({"accuracy": value}, gates).checks[0]
    assert check.passed == (value >= bound if kind == "min" else value <= bound)
    assert check.reason.startswith("accuracy ")
    shown = float(check.reason.split()[1])
    if not check.passed:
        assert shown != bound  # the printed value never looks like it met the bound


@pytest.mark.parametrize(
    ("kind", "outcome"), [("min", "can never be met"), ("max_regression", "allows anything")]
)
def test_a_share_written_as_a_percentage_is_refused_before_training(
    kind: str, outcome: str
) -> None:
    with pytest.raises(
        ConfigError,
        match=exact(
            f"/project/mlgate.yaml: gates.{kind}.accuracy: accuracy is at most 1, so a bound of "
            f"80 {outcome}. Write it as a share: 0.8 for 80%."
        ),
    ):
        check_gate_metrics(GatesConfig(**{kind: {"accuracy": 80}}), None, file=CONFIG)
    check_gate_metrics(GatesConfig(**{kind: {"accuracy": 0.8}}), None, file=CONFIG)
