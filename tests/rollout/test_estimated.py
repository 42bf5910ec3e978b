"""The rollout analysis estimates both versions' accuracy before labels, on a real
controller, registry and state store fed synthetic logs: advise shows it and acts on the
other checks; enforce holds, then rolls back, a challenger estimated clearly worse; once
labels are in, live accuracy has the last word."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.project import Project
from mlgate.road import rollouts
from mlgate.rollout.controller import Controller
from mlgate.state.rollout import get_rollout, rollout_events
from mlgate.stats.estimate import Calibration

from .support import CHALLENGER, CHAMPION, NAME, canary_traffic, label, set_rollout, utc, write


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock()
    monkeypatch.setattr(rollouts, "now", found)
    return found


def controller(config: Path) -> Controller:
    """The controller, with both versions' calibrations as a larger held-out set would fit
    them: the template's 120 held-out rows leave each bin's share too loose (about ±0.11)
    for any 0.02 margin to be shown."""
    import numpy as np

    loaded = load_config(config)
    found = Controller(Project(loaded.base_dir, Settings(), loaded), holder="a")
    rng = np.random.default_rng(0)
    top = rng.uniform(0.5, 1.0, 4000)
    calibration = Calibration.fit(top, rng.random(4000) < top)
    for version in (CHAMPION, CHALLENGER):
        card = found._card(version)
        assert card is not None
        assert card.calibration is not None
        assert card.calibration.usable  # fitted at registration
        found._cards[version] = card.model_copy(update={"calibration": calibration})
    return found


def traffic(clock: Clock, *, challenger_score: float, n: int = 200) -> list[dict[str, Any]]:
    """`n` canary requests, half to the challenger: the champion sure of its answers (top
    probability 0.99), the challenger as sure as `challenger_score`."""
    clock.now += 0.5
    records = canary_traffic(n, at=utc(clock.now), prefix=f"t{clock.now}")
    for record in records:
        record["score"] = challenger_score if record["version"] == CHALLENGER else 0.99
    return records


def analyse_once(rollout: Controller, clock: Clock, records: list[dict[str, Any]]) -> Any:
    write(rollout.log_root, "predictions", records)
    clock.now += 1.5
    verdict = rollout.tick()
    assert verdict is not None
    return verdict


def estimated_of_last_analysis(rollout: Controller) -> dict[str, Any]:
    (*_, last) = [e for e in rollout_events(rollout.store, NAME) if e.kind == "analysis"]
    found: dict[str, Any] = last.figures["analysis"]["estimated"]
    return found


def test_advise_shows_both_estimates_and_does_not_act_on_them(project: Path, clock: Clock) -> None:
    rollout = controller(project)
    rollouts.start_rollout(rollout.project)
    verdict = analyse_once(rollout, clock, traffic(clock, challenger_score=0.5))
    assert verdict.action == "advance"  # advice only: the other checks pass
    estimated = estimated_of_last_analysis(rollout)
    assert estimated["metric"] == "accuracy"
    challenger, same = estimated["challenger"], estimated["champion_same_rows"]
    assert (challenger["version"], same["version"]) == (CHALLENGER, CHAMPION)
    assert challenger["rows"] == same["rows"] == 100  # the challenger's rows, both answered
    assert estimated["champion"]["rows"] == 100  # the rows the champion served
    assert challenger["high"] < same["low"]


def test_enforce_holds_then_rolls_back_a_challenger_estimated_worse(
    project: Path, clock: Clock
) -> None:
    set_rollout(project, analysis={"estimated": "enforce"})
    rollout = controller(project)
    rollouts.start_rollout(rollout.project)
    first = analyse_once(rollout, clock, traffic(clock, challenger_score=0.6))
    assert first.action == "hold"
    (check,) = [c for c in first.checks if c.name == "estimated_performance"]
    assert not check.passed
    assert check.reason.startswith("estimated accuracy: challenger 0.")
    assert "(rollout.analysis.estimated: enforce, before 20 labelled rows per version)" in (
        check.reason
    )
    second = analyse_once(rollout, clock, traffic(clock, challenger_score=0.6))
    assert second.action == "rollback"
    assert get_rollout(rollout.store, NAME).status == "rolled_back"


def test_enforce_lets_an_equal_challenger_through(project: Path, clock: Clock) -> None:
    set_rollout(project, analysis={"estimated": "enforce"})
    rollout = controller(project)
    rollouts.start_rollout(rollout.project)
    verdict = analyse_once(rollout, clock, traffic(clock, challenger_score=0.99))
    assert verdict.action == "advance"
    (check,) = [c for c in verdict.checks if c.name == "estimated_performance"]
    assert check.passed


def test_with_labels_live_accuracy_has_the_last_word(project: Path, clock: Clock) -> None:
    set_rollout(project, analysis={"estimated": "enforce"})
    rollout = controller(project)
    rollouts.start_rollout(rollout.project)
    records = traffic(clock, challenger_score=0.5)
    # Every answer was right: the estimate said otherwise, the labels say it is not worse.
    labels = [
        label(r["request_id"], "0", at=r["time"]) for r in records if r["role"] != "reference"
    ]
    write(rollout.log_root, "feedback", labels)
    verdict = analyse_once(rollout, clock, records)
    assert verdict.action == "advance"
    assert not [c for c in verdict.checks if c.name == "estimated_performance"]
    assert estimated_of_last_analysis(rollout)["challenger"] is not None


def test_off_estimates_nothing(project: Path, clock: Clock) -> None:
    set_rollout(project, analysis={"estimated": "off"})
    rollout = controller(project)
    rollouts.start_rollout(rollout.project)
    analyse_once(rollout, clock, traffic(clock, challenger_score=0.5))
    assert estimated_of_last_analysis(rollout) is None
