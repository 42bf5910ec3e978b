"""Promote, roll back, nominate: one implementation each, whoever asks (CLI, admin API, controller).

On a real registry and state store (a copy of a project with champion 1 and
challenger 2); the webhook is a recorder, so each act's notifications are counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.errors import RegistryError, RolloutError
from mlgate.project import Project
from mlgate.reporting.notify import Notifier
from mlgate.road import acts
from mlgate.road.rollouts import start_rollout
from mlgate.state.rollout import get_rollout, rollout_events
from rollout.support import CHALLENGER, CHAMPION, NAME, clean_environment, copy_project
from rollout.support import registered_template as build_template


class Recorder(Notifier):
    """A notifier that keeps what it is asked to send."""

    def __init__(self) -> None:
        super().__init__(None)
        self.events: list[str] = []

    def notify(self, event: str, text: str, **details: Any) -> None:
        self.events.append(event)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory)


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    clean_environment(monkeypatch)
    monkeypatch.setenv("MLGATE_ACTOR", "tester")
    config = load_config(copy_project(template, tmp_path / "project"))
    return Project(config.base_dir, Settings(), config, notifier=Recorder())


def notified(project: Project) -> list[str]:
    notifier = project.notifier
    assert isinstance(notifier, Recorder)
    return notifier.events


def test_promoting_the_challenger_of_a_running_rollout_ends_it_on_record(
    project: Project,
) -> None:
    start_rollout(project)
    act = acts.promote(project, CHALLENGER, reason="ship it")
    assert act.moved is None
    assert act.ended is not None
    assert (act.ended.status, act.ended.note) == ("promoted", "promoted version 2: ship it")
    assert project.catalog.aliases(NAME) == {"champion": CHALLENGER}
    assert [e.kind for e in rollout_events(project.state, NAME)] == ["start", "promote"]
    assert notified(project) == ["rollout_start", "rollout_promote"]


def test_promoting_by_hand_moves_the_champion_and_ends_the_split(project: Project) -> None:
    act = acts.promote(project, CHALLENGER, reason="by hand")
    assert act.moved is not None
    assert (act.moved.from_version, act.moved.to_version, act.moved.actor) == (
        CHAMPION,
        CHALLENGER,
        "tester",
    )
    assert act.ended is None
    state = get_rollout(project.state, NAME)
    assert (state.strategy, state.weight, state.status) == ("none", 0.0, "promoted")
    assert notified(project) == ["alias_promote"]


def test_promoting_the_champion_again_moves_and_records_nothing(project: Project) -> None:
    act = acts.promote(project, CHAMPION, reason="again")
    assert (act.moved, act.ended) == (None, None)
    assert get_rollout(project.state, NAME).status == "idle"
    assert notified(project) == []


def test_promote_without_a_version_needs_a_running_rollout(project: Project) -> None:
    with pytest.raises(RolloutError, match=r"^no rollout of 'credit-risk' is running"):
        acts.promote(project, reason="r")
    assert project.catalog.aliases(NAME) == {"champion": CHAMPION, "challenger": CHALLENGER}


def test_rolling_back_during_a_rollout_takes_the_challenger_out(project: Project) -> None:
    start_rollout(project)
    act = acts.rollback(project, reason="errors up")
    assert act.ended is not None
    assert act.ended.status == "rolled_back"
    assert project.catalog.aliases(NAME) == {"champion": CHAMPION}
    assert notified(project) == ["rollout_start", "rollout_rollback"]


def test_rolling_back_by_hand_returns_the_champion_before(project: Project) -> None:
    acts.promote(project, CHALLENGER, reason="try it")
    act = acts.rollback(project, reason="worse")
    assert act.moved is not None
    assert (act.moved.from_version, act.moved.to_version) == (CHALLENGER, CHAMPION)
    state = get_rollout(project.state, NAME)
    assert (state.strategy, state.status) == ("none", "rolled_back")
    assert notified(project) == ["alias_promote", "alias_rollback"]
    with pytest.raises(RegistryError, match=r"^no champion of 'credit-risk' came before"):
        acts.rollback(project, reason="again")


def test_nominating_makes_a_challenger_once(project: Project) -> None:
    start_rollout(project)
    acts.abort(project, reason="later")
    again = acts.nominate(project, CHALLENGER, reason="try again")
    assert again.moved is not None
    assert again.moved.to_version == CHALLENGER
    assert acts.nominate(project, CHALLENGER, reason="twice").moved is None
    assert notified(project) == ["rollout_start", "rollout_rollback", "alias_nominate"]


def test_another_model_than_the_projects_own_is_named(project: Project) -> None:
    with pytest.raises(RegistryError, match=r"^no registered model named 'other'"):
        acts.promote(project, "1", reason="r", model="other")


def test_a_champion_moved_under_a_rollout_ends_it_before_an_act(project: Project) -> None:
    start_rollout(project)
    project.catalog.move_alias(NAME, "champion", CHALLENGER, action="test", reason="elsewhere")
    with pytest.raises(RolloutError, match=r"is running \(status: superseded\)"):
        acts.abort(project, reason="by hand")
    (ended,) = [e for e in rollout_events(project.state, NAME) if e.kind == "superseded"]
    assert ended.message == "ended: version 2 replaced version 1 as champion"


def test_a_challenger_replaced_under_a_rollout_is_not_promoted_by_hand(
    project: Project,
) -> None:
    start_rollout(project)
    # Another version takes the challenger alias (as a newer `mlgate run` would).
    project.catalog.move_alias(NAME, "challenger", CHAMPION, action="register", reason="newer")
    with pytest.raises(RolloutError, match=r"is running \(status: superseded\)"):
        acts.promote(project, reason="by hand")
    assert project.catalog.aliases(NAME) == {"champion": CHAMPION, "challenger": CHAMPION}


def test_acts_at_once_move_from_what_the_one_before_left(project: Project) -> None:
    import threading

    acts.promote(project, CHALLENGER, reason="try it")
    outcomes: list[str] = []

    def roll_back() -> None:
        try:
            acts.rollback(project, reason="at once")
            outcomes.append("moved")
        except RegistryError:
            outcomes.append("refused")

    threads = [threading.Thread(target=roll_back) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["moved", "refused", "refused", "refused"]
    rollbacks = [e for e in project.catalog.history(NAME) if e.action == "rollback"]
    assert [(e.from_version, e.to_version) for e in rollbacks] == [(CHALLENGER, CHAMPION)]


def test_a_rollout_records_the_task_its_analysis_judges_by(project: Project) -> None:
    assert start_rollout(project).plan["task"] == "classification"
