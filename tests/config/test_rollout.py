"""The `rollout:` section: durations, canary steps, and errors that name `rollout.<field>`."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.config.rollout import RolloutConfig, parse_duration
from mlgate.errors import ConfigError


def config_with(folder: Path, rollout: Any) -> Path:
    """A minimal valid mlgate.yaml in `folder` with this `rollout:` section."""
    (folder / "train.csv").write_text("x,y\n1,0\n2,1\n", encoding="utf-8")
    path = folder / "mlgate.yaml"
    doc = {
        "name": "m",
        "data": {"train": "train.csv", "target": "y"},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
        "rollout": rollout,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        (90, 90.0),
        (2.5, 2.5),
        ("60s", 60.0),
        ("5m", 300.0),
        ("1.5m", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        ("1d", 86400.0),
        (" 45 ", 45.0),
        ("10 s", 10.0),
    ],
)
def test_durations_read_as_seconds(given: Any, seconds: float) -> None:
    assert parse_duration(given) == seconds
    assert RolloutConfig(interval=given).interval == seconds


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("soon", "must be a duration such as 30s, 5m or 1h"),
        ("5 minutes", "must be a duration such as 30s, 5m or 1h"),
        ("-5s", "must be a duration such as 30s, 5m or 1h"),
        (True, "must be a duration such as 30s, 5m or 1h"),
        (math.nan, "must be a duration such as 30s, 5m or 1h"),
        (math.inf, "must be a duration such as 30s, 5m or 1h"),
        (0, "must be a positive duration"),
        ("0s", "must be a positive duration"),
        (-3, "must be a positive duration"),
    ],
)
def test_bad_durations_are_refused(given: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(problem)}$"):
        parse_duration(given)


def test_defaults_make_a_canary_that_ends_at_full_traffic() -> None:
    config = RolloutConfig()
    assert config.strategy == "canary"
    assert config.steps == [5.0, 25.0, 50.0, 100.0]
    assert config.interval == 60.0
    assert config.max_duration == 600.0  # ten intervals
    assert config.lease_ttl == 180.0  # three intervals
    assert RolloutConfig(interval="1s").lease_ttl == 15.0  # never less than 15 s
    assert RolloutConfig(interval="1s", lease="2s").lease_ttl == 2.0
    assert RolloutConfig(interval="1m", duration="1h").max_duration == 3600.0


def test_blue_green_judges_mirrored_requests_before_it_switches_unless_told_not_to() -> None:
    config = RolloutConfig(strategy="blue-green", interval="5s", analysis={"min_requests": 40})
    assert (config.pre_switching, config.weight_at(0), config.weight_at(1)) == (True, 0.0, 100.0)
    assert (config.pre_switch_requests, config.pre_switch_duration) == (40, 50.0)
    sized = RolloutConfig(
        strategy="blue-green", pre_switch={"min_requests": 7, "max_duration": "2m"}
    )
    assert (sized.pre_switch_requests, sized.pre_switch_duration) == (7, 120.0)
    at_once = RolloutConfig(strategy="blue-green", pre_switch={"enabled": False})
    assert (at_once.pre_switching, at_once.weight_at(0)) == (False, 100.0)
    assert not RolloutConfig(strategy="canary").pre_switching


def test_live_accuracy_is_required_when_set_or_in_an_ab_and_waited_for_a_duration() -> None:
    assert not RolloutConfig().needs_labels
    assert RolloutConfig().live_accuracy_floor == -0.02
    asked = RolloutConfig(analysis={"min_live_accuracy_delta": -0.05})
    assert (asked.needs_labels, asked.live_accuracy_floor) == (True, -0.05)
    assert RolloutConfig(strategy="ab").needs_labels
    assert RolloutConfig(interval="30s").labels_wait == 300.0  # rollout.duration's default
    assert RolloutConfig(duration="1h").labels_wait == 3600.0
    assert RolloutConfig(analysis={"labels_wait": "2h"}).labels_wait == 7200.0
    assert RolloutConfig().analysis.on_missing_labels == "rollback"


def test_a_config_file_reads_durations_and_steps(tmp_path: Path) -> None:
    path = config_with(
        tmp_path,
        {"strategy": "canary", "steps": [5, 50, 100], "interval": "5m", "duration": 90},
    )
    rollout = load_config(path).rollout
    assert (rollout.steps, rollout.interval, rollout.duration) == ([5.0, 50.0, 100.0], 300.0, 90.0)


def test_steps_need_not_end_at_100_outside_a_canary(tmp_path: Path) -> None:
    path = config_with(tmp_path, {"strategy": "shadow", "steps": [10, 50]})
    assert load_config(path).rollout.steps == [10.0, 50.0]


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        (
            {"interval": "soon"},
            "rollout.interval: must be a duration such as 30s, 5m or 1h (got 'soon')",
        ),
        ({"duration": 0}, "rollout.duration: must be a positive duration (got 0)"),
        ({"steps": [50, 10, 100]}, "rollout.steps: weights must increase (got [50, 10, 100])"),
        ({"steps": [10, 10, 100]}, "rollout.steps: weights must increase (got [10, 10, 100])"),
        (
            {"steps": [10, 50]},
            "rollout.steps: a canary's last step must be 100 (all traffic) (got [10, 50])",
        ),
        ({"steps": [0, 100]}, "rollout.steps: weights must be in (0, 100] (got [0, 100])"),
        ({"steps": [50, 150]}, "rollout.steps: weights must be in (0, 100] (got [50, 150])"),
        ({"steps": []}, "rollout.steps: needs at least one weight (got [])"),
        (
            {"strategy": "big-bang"},
            "rollout.strategy: must be one of 'blue-green', 'canary', 'shadow' or 'ab' "
            "(got 'big-bang')",
        ),
        ({"weight": 100}, "rollout.weight: must be less than 100 (got 100)"),
        ({"failure_limit": 0}, "rollout.failure_limit: must be greater than or equal to 1 (got 0)"),
        (
            {"stepz": [10, 100]},
            "rollout.stepz: unknown key (did you mean 'steps'? allowed: alpha, analysis, "
            "duration, failure_limit, holdback, interval, lease, margin, pre_switch, "
            "sample_size, steps, strategy, webhook, weight)",
        ),
        (
            {"analysis": {"max_eror_rate": 0.1}},
            "rollout.analysis.max_eror_rate: unknown key (did you mean 'max_error_rate'? "
            "allowed: estimated, labels_wait, latency_slack_ms, max_error_rate, "
            "max_p99_latency_ratio, min_agreement, min_labels, min_live_accuracy_delta, "
            "min_requests, on_missing_labels, regression_tolerance)",
        ),
        (
            {"analysis": {"on_missing_labels": "wait"}},
            "rollout.analysis.on_missing_labels: must be one of 'hold', 'rollback' or 'promote' "
            "(got 'wait')",
        ),
        (
            {"analysis": {"estimated": True}},
            "rollout.analysis.estimated: must be one of 'off', 'advise' or 'enforce' (got True); "
            "YAML reads yes, no, on and off unquoted as true or false: write it in quotes, "
            "e.g. 'advise'.",
        ),
        (
            {"analysis": {"estimated": False}},
            "rollout.analysis.estimated: must be one of 'off', 'advise' or 'enforce' "
            "(got False); YAML reads yes, no, on and off unquoted as true or false: write it "
            "in quotes, e.g. 'off'.",
        ),
        (
            {"analysis": {"labels_wait": "later"}},
            "rollout.analysis.labels_wait: must be a duration such as 30s, 5m or 1h (got 'later')",
        ),
        (
            {"pre_switch": {"min_requests": 0}},
            "rollout.pre_switch.min_requests: must be greater than or equal to 1 (got 0)",
        ),
        (
            {"pre_switch": {"enable": False}},
            "rollout.pre_switch.enable: unknown key (did you mean 'enabled'? allowed: enabled, "
            "max_duration, min_requests)",
        ),
        (
            {"analysis": {"min_agreement": 1.5}},
            "rollout.analysis.min_agreement: must be less than or equal to 1 (got 1.5)",
        ),
        (
            {"steps": [10, 97, 100], "analysis": {"min_live_accuracy_delta": -0.02}},
            "rollout.holdback: leaves the last step at 95%, not above the step before it "
            "(97%); hold back less than 3 (got 5.0)",
        ),
    ],
)
def test_config_errors_name_the_rollout_field(
    tmp_path: Path, rollout: dict[str, Any], expected: str
) -> None:
    path = config_with(tmp_path, rollout)
    with pytest.raises(ConfigError, match=rf"^{re.escape(f'{path}: {expected}')}$"):
        load_config(path)


def test_an_unquoted_yes_for_a_choice_of_words_says_to_quote_it(tmp_path: Path) -> None:
    path = config_with(tmp_path, {"analysis": {"estimated": "advise"}})
    path.write_text(
        path.read_text(encoding="utf-8").replace("estimated: advise", "estimated: yes"),
        encoding="utf-8",
    )
    expected = (
        f"{path}: rollout.analysis.estimated: must be one of 'off', 'advise' or 'enforce' "
        "(got True); YAML reads yes, no, on and off unquoted as true or false: write it in "
        "quotes, e.g. 'advise'."
    )
    with pytest.raises(ConfigError, match=rf"^{re.escape(expected)}$"):
        load_config(path)
