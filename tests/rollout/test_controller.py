"""The controller on a real registry and state store, fed synthetic prediction logs.

Time is the rollout's own clock (`mlgate.road.rollouts.now`), moved by the tests; the logs are
written with the same clock, so nothing waits for an interval to pass. Leases
use the real clock, as they do between processes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlgate.config.loader import load_config
from mlgate.config.settings import Settings
from mlgate.errors import ConfigError, RevisionConflict, RolloutError
from mlgate.project import Project
from mlgate.registry import aliases
from mlgate.registry.catalog import CHALLENGER as CHALLENGER_ALIAS
from mlgate.registry.catalog import Catalog
from mlgate.reporting.notify import Notifier
from mlgate.road import acts, rollouts
from mlgate.rollout.controller import Controller
from mlgate.rollout.verdict import Verdict
from mlgate.state.rollout import RolloutState, acquire_lease, get_rollout, rollout_events
from mlgate.state.rollout import set_rollout as store_split

from .support import (
    CHALLENGER,
    CHAMPION,
    NAME,
    canary_traffic,
    label,
    mirrored_traffic,
    race_for_an_expired_lease,
    set_rollout,
    utc,
    write,
)


class Clock:
    """The controller's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder(Notifier):
    """A notifier that keeps what it is asked to send."""

    def __init__(self) -> None:
        super().__init__(None)
        self.messages: list[tuple[str, str, dict[str, Any]]] = []

    def notify(self, event: str, text: str, **details: Any) -> None:
        self.messages.append((event, text, details))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock()
    monkeypatch.setattr(rollouts, "now", found)
    return found


class Rollout(Controller):
    """The controller, with the acts every face calls on the same project at hand."""

    @property
    def catalog(self) -> Catalog:
        return self.project.catalog

    def start(
        self,
        *,
        strategy: str | None = None,
        steps: list[float] | None = None,
        actor: str = "mlgate",
    ) -> RolloutState:
        return rollouts.start_rollout(self.project, strategy=strategy, steps=steps, actor=actor)

    def promote(self, *, actor: str, reason: str = "promoted by hand") -> RolloutState | None:
        return acts.promote(self.project, reason=reason, actor=actor).ended

    def abort(self, *, actor: str, reason: str = "aborted by hand") -> RolloutState | None:
        return acts.abort(self.project, reason=reason, actor=actor).ended

    def status(self) -> dict[str, Any]:
        return rollouts.rollout_status(self.project)


def open_controller(
    config: Path, *, holder: str = "a", notifier: Notifier | None = None
) -> Rollout:
    loaded = load_config(config)
    project = Project(loaded.base_dir, Settings(), loaded, notifier=notifier or Recorder())
    return Rollout(project, holder=holder)


def logs(config: Path) -> Path:
    return config.parent / ".mlgate" / "logs"


def serve_traffic(config: Path, clock: Clock, n: int = 40, **options: Any) -> None:
    """`n` requests logged a moment after the clock's now (half to the challenger)."""
    clock.advance(0.5)
    write(
        logs(config),
        "predictions",
        canary_traffic(n, at=utc(clock.now), prefix=f"t{clock.now}", **options),
    )


def kinds(controller: Rollout) -> list[str]:
    return [e.kind for e in rollout_events(controller.store, NAME)]


# --- start ------------------------------------------------------------------------------


def test_start_needs_a_challenger(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .support import clean_environment, copy_project

    clean_environment(monkeypatch)
    config = copy_project(template, tmp_path / "only", champion_only=True)
    with pytest.raises(
        RolloutError,
        match=r"^model 'credit-risk' has no challenger to roll out\. `mlgate run` registers a "
        r"version that passes its gates as challenger; `mlgate models challenger credit-risk "
        r"VERSION` makes an earlier one challenger again\.$",
    ):
        open_controller(config).start()
    assert get_rollout(open_controller(config).store, NAME).status == "idle"


def test_start_records_the_plan_and_refuses_a_second_start(project: Path, clock: Clock) -> None:
    controller = open_controller(project)
    state = controller.start(actor="ops")
    assert (state.strategy, state.weight, state.status) == ("canary", 10.0, "running")
    assert state.plan["champion"] == CHAMPION
    assert state.plan["challenger"] == CHALLENGER
    assert state.plan["step"] == 0
    assert state.plan["config"]["steps"] == [10.0, 50.0, 100.0]
    assert state.note == "canary of version 2 against 1"
    (event,) = rollout_events(controller.store, NAME)
    assert (event.kind, event.actor, event.weight) == ("start", "ops", 10.0)
    with pytest.raises(
        RolloutError,
        match=r"^a canary rollout of 'credit-risk' is already running\. Finish it first: "
        r"mlgate rollout promote, or mlgate rollout abort\.$",
    ):
        controller.start()
    assert kinds(controller) == ["start"]


def _race_to_start(controllers: list[Controller]) -> tuple[list[str], list[str]]:
    """Every controller starts at the same moment; (holders that won, refusals)."""
    barrier = threading.Barrier(len(controllers))
    won: list[str] = []
    refused: list[str] = []

    def start(controller: Controller) -> None:
        barrier.wait(timeout=10)
        try:
            controller.start(actor=controller.holder)
        except RolloutError as e:
            refused.append(str(e))
        else:
            won.append(controller.holder)

    threads = [threading.Thread(target=start, args=(c,)) for c in controllers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won, refused


def test_two_starts_at_once_make_one_rollout(project: Path) -> None:
    for attempt in range(5):  # a race needs a few tries to be a race; each must hold
        controllers = [open_controller(project, holder=f"h{i}") for i in range(4)]
        won, refused = _race_to_start(controllers)
        assert len(won) == 1, (won, refused)
        assert len(refused) == 3
        assert all(
            "is already running" in text or "changed while this start was being made" in text
            for text in refused
        ), refused
        assert kinds(controllers[0]) == ["start"] * (attempt + 1)
        assert get_rollout(controllers[0].store, NAME).updated_by == won[0]
        store_split(  # back to idle, the challenger still registered, for the next race
            controllers[0].store, NAME, strategy="none", weight=0.0, actor="t", status="idle"
        )


def _at_once(acts: list[tuple[Rollout, str]]) -> dict[str, str]:
    """Each controller does its act at the same moment; {act: the status it left, or the
    refusal it got}."""
    barrier = threading.Barrier(len(acts))
    done: dict[str, str] = {}

    def act(controller: Rollout, what: str) -> None:
        barrier.wait(timeout=10)
        try:
            state = getattr(controller, what)(actor=what)
        except RolloutError as e:
            done[what] = str(e)
        else:
            done[what] = state.status

    threads = [threading.Thread(target=act, args=pair) for pair in acts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return done


@pytest.mark.parametrize("attempt", range(3))
def test_a_promotion_and_an_abort_at_once_end_the_rollout_once(project: Path, attempt: int) -> None:
    # Two projects, as two processes would have (each its own lock): only the state store
    # is shared. A promotion and an abort both succeeded: version 2 ended champion while
    # the record said "rolled back: aborted by hand".
    first, second = open_controller(project, holder="a"), open_controller(project, holder="b")
    first.start()
    done = _at_once([(first, "promote"), (second, "abort")])
    ended = {what: status for what, status in done.items() if status in ("promoted", "rolled_back")}
    assert len(ended) == 1, done
    (loser,) = set(done) - set(ended)
    assert "no rollout of 'credit-risk' is running" in done[loser], done
    state = get_rollout(first.store, NAME)
    served = first.catalog.aliases(NAME)
    if state.status == "promoted":
        assert served == {"champion": CHALLENGER}
        assert kinds(first) == ["start", "promote"]
    else:
        assert state.status == "rolled_back"
        assert served == {"champion": CHAMPION}
        assert kinds(first) == ["start", "rollback"]


def test_an_end_read_before_another_is_refused_and_moves_nothing(project: Path) -> None:
    controller = open_controller(project)
    stale = controller.start()
    controller.abort(actor="ops")
    with pytest.raises(
        RevisionConflict,
        match=r"^the rollout state of 'credit-risk' changed while this change was being made",
    ):
        rollouts.end_rollout(controller.project, stale, "promote", "late", {}, "controller")
    assert get_rollout(controller.store, NAME).status == "rolled_back"
    assert controller.catalog.aliases(NAME) == {"champion": CHAMPION}
    assert kinds(controller) == ["start", "rollback"]


def test_an_abort_elsewhere_during_an_analysis_is_not_undone(project: Path, clock: Clock) -> None:
    # The controller read a running rollout; meanwhile another process aborted it. Its step
    # must not set the rollout running again.
    controller, elsewhere = open_controller(project, holder="a"), open_controller(project)
    controller.start()
    read = get_rollout(controller.store, NAME)
    elsewhere.abort(actor="ops")
    clock.advance(5)
    verdict = Verdict(action="advance", reasons=["every check passed"], failures=0)
    controller._step(read, verdict, {}, clock.now)
    assert get_rollout(controller.store, NAME).status == "rolled_back"
    assert controller.catalog.aliases(NAME) == {"champion": CHAMPION}


@pytest.mark.parametrize(
    ("strategy", "weight"), [("blue-green", 0.0), ("shadow", 0.0), ("ab", 50.0)]
)
def test_start_with_another_strategy(project: Path, strategy: str, weight: float) -> None:
    state = open_controller(project).start(strategy=strategy)
    assert (state.strategy, state.weight) == (strategy, weight)


def test_start_with_steps_that_do_not_make_a_plan(project: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^the rollout plan is not valid: steps: weights must increase "
        r"\(got \[50, 10, 100\]\)\. Steps are percentages",
    ):
        open_controller(project).start(steps=[50, 10, 100])
    assert get_rollout(open_controller(project).store, NAME).status == "idle"


# --- the loop ------------------------------------------------------------------------------


def test_tick_does_nothing_before_the_interval(project: Path, clock: Clock) -> None:
    controller = open_controller(project)
    controller.start()
    serve_traffic(project, clock)
    clock.advance(0.4)  # 0.9 s after the start: the interval is 1 s
    assert controller.tick() is None
    assert kinds(controller) == ["start"]


def test_tick_does_nothing_without_a_rollout(project: Path, clock: Clock) -> None:
    clock.advance(100)
    assert open_controller(project).tick() is None


def test_tick_does_nothing_without_the_lease(project: Path, clock: Clock) -> None:
    controller = open_controller(project, holder="a")
    controller.start()
    assert acquire_lease(controller.store, controller.lease, "someone-else", ttl=60)
    serve_traffic(project, clock)
    clock.advance(5)
    assert controller.tick() is None
    assert kinds(controller) == ["start"]


def test_canary_advances_through_its_steps_then_promotes(project: Path, clock: Clock) -> None:
    recorder = Recorder()
    controller = open_controller(project, notifier=recorder)
    controller.start()
    weights = []
    for _ in range(3):
        serve_traffic(project, clock)
        clock.advance(1)
        verdict = controller.tick()
        assert verdict is not None
        weights.append((verdict.action, get_rollout(controller.store, NAME).weight))
    assert weights == [("advance", 50.0), ("advance", 100.0), ("promote", 0.0)]

    events = rollout_events(controller.store, NAME)
    assert [(e.kind, e.weight, e.step) for e in events] == [
        ("start", 10.0, 0),
        ("analysis", 10.0, 0),
        ("step", 50.0, 1),
        ("analysis", 50.0, 1),
        ("step", 100.0, 2),
        ("analysis", 100.0, 2),
        ("promote", 0.0, 2),
    ]
    step = events[2]
    assert step.message == "advanced to 50%"
    seen = step.figures["analysis"]
    assert (seen["challenger"]["requests"], seen["challenger"]["version"]) == (20, CHALLENGER)
    assert seen["champion"]["requests"] == 20
    assert seen["agreement"] == 1.0
    assert step.figures["verdict"]["action"] == "advance"
    assert {c["name"] for c in step.figures["verdict"]["checks"]} == {
        "error_rate",
        "p99_latency_ratio",
        "agreement",
    }

    state = get_rollout(controller.store, NAME)
    assert (state.status, state.strategy, state.weight) == ("promoted", "none", 0.0)
    catalog = controller.catalog
    assert catalog.aliases(NAME) == {"champion": CHALLENGER}
    moves = [(m.alias, m.from_version, m.to_version, m.action) for m in catalog.history(NAME)]
    assert moves[-2:] == [
        ("champion", CHAMPION, CHALLENGER, "promote"),
        ("challenger", CHALLENGER, None, "promote"),
    ]
    assert [m[0] for m in recorder.messages] == [
        "rollout_start",
        "rollout_analysis",
        "rollout_step",
        "rollout_analysis",
        "rollout_step",
        "rollout_analysis",
        "rollout_promote",
    ]
    assert (
        recorder.messages[-1][1]
        == f"mlgate {NAME}: promoted version 2: " + events[-1].message.split(": ", 1)[1]
    )


def test_failing_canary_rolls_back_after_the_failure_limit(project: Path, clock: Clock) -> None:
    recorder = Recorder()
    controller = open_controller(project, notifier=recorder)
    controller.start()
    serve_traffic(project, clock, errors=10)
    clock.advance(1)
    first = controller.tick()
    assert first is not None
    assert (first.action, first.failures) == ("hold", 1)
    state = get_rollout(controller.store, NAME)
    assert (state.status, state.weight, state.plan["failures"]) == ("running", 10.0, 1)

    serve_traffic(project, clock, errors=10)
    clock.advance(1)
    second = controller.tick()
    assert second is not None
    assert second.action == "rollback"
    state = get_rollout(controller.store, NAME)
    assert (state.status, state.strategy, state.weight) == ("rolled_back", "none", 0.0)
    assert state.note.startswith("rolled back version 2: challenger error rate 50.00%")
    assert controller.catalog.aliases(NAME) == {"champion": CHAMPION}
    assert kinds(controller) == ["start", "analysis", "analysis", "rollback"]
    # Holds are recorded but not notified; the rollback is.
    assert [m[0] for m in recorder.messages] == [
        "rollout_start",
        "rollout_analysis",
        "rollout_rollback",
    ]


def test_abort_by_hand(project: Path) -> None:
    controller = open_controller(project)
    controller.start()
    state = controller.abort(actor="ops", reason="customers complain")
    assert (state.status, state.strategy, state.weight) == ("rolled_back", "none", 0.0)
    assert state.note == "rolled back version 2: customers complain"
    assert controller.catalog.aliases(NAME) == {"champion": CHAMPION}
    assert rollout_events(controller.store, NAME)[-1].actor == "ops"


def test_promote_by_hand(project: Path) -> None:
    controller = open_controller(project)
    controller.start()
    state = controller.promote(actor="ops")
    assert (state.status, state.note) == ("promoted", "promoted version 2: promoted by hand")
    assert controller.catalog.aliases(NAME) == {"champion": CHALLENGER}


@pytest.mark.parametrize("command", ["promote", "abort"])
def test_promote_and_abort_need_a_running_rollout(project: Path, command: str) -> None:
    with pytest.raises(
        RolloutError,
        match=r"^no rollout of 'credit-risk' is running \(status: idle\)\. "
        r"Start one with mlgate rollout start\.$",
    ):
        getattr(open_controller(project), command)(actor="ops")


def test_status_shows_the_next_action(project: Path, clock: Clock) -> None:
    controller = open_controller(project)
    assert controller.status()["next"] is None
    controller.start()
    clock.advance(0.25)
    upcoming = controller.status()["next"]
    assert upcoming["step"] == 0
    assert upcoming["of_steps"] == 3
    assert upcoming["in_seconds"] == pytest.approx(0.75)
    assert upcoming["action"] == (
        "advance to 50% if every check passes; rolls back after 2 more failed analyses"
    )
    serve_traffic(project, clock, errors=10)
    clock.advance(1)
    controller.tick()
    assert controller.status()["next"]["action"] == (
        "advance to 50% if every check passes; rolls back after 1 more failed analysis"
    )
    controller.abort(actor="ops")
    found = controller.status()
    assert found["next"] is None
    assert found["state"]["status"] == "rolled_back"
    assert [e["kind"] for e in found["events"]] == ["start", "analysis", "rollback"]


@pytest.mark.parametrize(
    ("strategy", "action"),
    [
        (
            "blue-green",
            "switch all traffic to the challenger if every check passes on the copies of live "
            "requests it answers off the path (the pre-switch analysis); rolls back after 2 "
            "more failed analyses",
        ),
        ("shadow", "promote by "),
        ("ab", "promote once the challenger is shown no worse than 0.02 in live accuracy"),
    ],
)
def test_status_next_action_per_strategy(project: Path, strategy: str, action: str) -> None:
    controller = open_controller(project)
    controller.start(strategy=strategy)
    assert controller.status()["next"]["action"].startswith(action)


def serve_mirrored(config: Path, clock: Clock, n: int = 40, **options: Any) -> None:
    """`n` requests the champion answered, each copied to the challenger off the path."""
    clock.advance(0.5)
    write(
        logs(config),
        "predictions",
        mirrored_traffic(n, at=utc(clock.now), prefix=f"m{clock.now}", **options),
    )


def test_blue_green_switches_after_its_pre_switch_analysis_then_promotes(
    project: Path, clock: Clock
) -> None:
    controller = open_controller(project)
    assert controller.start(strategy="blue-green").weight == 0.0
    assert controller.status()["next"]["of_steps"] == 2
    serve_mirrored(project, clock)
    clock.advance(1)
    switch = controller.tick()
    assert switch is not None
    assert switch.action == "advance"
    assert {c.name for c in switch.checks} == {"error_rate", "p99_latency_ratio", "agreement"}
    state = get_rollout(controller.store, NAME)
    assert (state.status, state.weight, state.plan["step"]) == ("running", 100.0, 1)
    step = rollout_events(controller.store, NAME)[-1]
    assert (step.kind, step.weight) == ("step", 100.0)
    assert step.message == (
        "switched all traffic to version 2: the pre-switch analysis passed on 40 mirrored "
        "request(s): all traffic switches to the challenger"
    )
    assert controller.status()["next"]["action"].startswith("promote if every check passes")
    serve_traffic(project, clock, challenger_share=1.0)
    clock.advance(1)
    verdict = controller.tick()
    assert verdict is not None
    assert verdict.action == "promote"
    assert controller.catalog.aliases(NAME) == {"champion": CHALLENGER}


def test_a_blue_green_failing_its_pre_switch_analysis_never_switches(
    project: Path, clock: Clock
) -> None:
    controller = open_controller(project)
    controller.start(strategy="blue-green")
    weights = []
    for _ in range(2):
        serve_mirrored(project, clock, errors=12)
        clock.advance(1)
        verdict = controller.tick()
        assert verdict is not None
        weights.append((verdict.action, get_rollout(controller.store, NAME).weight))
    assert weights == [("hold", 0.0), ("rollback", 0.0)]
    state = get_rollout(controller.store, NAME)
    assert state.status == "rolled_back"
    assert state.note == (
        "rolled back version 2: the pre-switch analysis failed on 80 mirrored request(s), so "
        "no user got the challenger's answers: challenger error rate 30.00% (champion 0.00%), "
        "limit 1.00%"
    )
    assert kinds(controller) == ["start", "analysis", "analysis", "rollback"]
    assert controller.catalog.aliases(NAME) == {"champion": CHAMPION}


def test_a_blue_green_told_not_to_judge_first_switches_at_once(project: Path, clock: Clock) -> None:
    set_rollout(project, pre_switch={"enabled": False})
    controller = open_controller(project)
    assert controller.start(strategy="blue-green").weight == 100.0
    serve_traffic(project, clock, challenger_share=1.0)
    clock.advance(1)
    verdict = controller.tick()
    assert verdict is not None
    assert verdict.action == "promote"


# --- live accuracy asked for, labels missing ----------------------------------------------


def give_labels(config: Path, clock: Clock, prefix: str, n: int) -> None:
    """Labels for the first `n` requests of each side logged under `prefix`."""
    write(
        logs(config),
        "feedback",
        [label(f"{prefix}-{i}", "0", at=utc(clock.now)) for i in range(n)],
    )


def test_a_canary_asked_for_live_accuracy_holds_for_labels_then_rolls_back(
    project: Path, clock: Clock
) -> None:
    set_rollout(project, analysis={"min_live_accuracy_delta": -0.05, "labels_wait": "3s"})
    recorder = Recorder()
    controller = open_controller(project, notifier=recorder)
    controller.start()
    actions = []
    for _ in range(4):  # analyses 1.5 s apart
        serve_traffic(project, clock)
        clock.advance(1)
        verdict = controller.tick()
        assert verdict is not None
        actions.append((verdict.action, get_rollout(controller.store, NAME).weight))
    # 10% and 50% advance on the other checks; the last step, the champion keeping 5% of
    # keys, waits for labels
    assert actions == [("advance", 50.0), ("advance", 95.0), ("hold", 95.0), ("rollback", 0.0)]
    analyses = [e for e in rollout_events(controller.store, NAME) if e.kind == "analysis"]
    assert analyses[2].message == (
        "hold: waiting for labels: live accuracy is required (rollout.analysis."
        "min_live_accuracy_delta -0.05) and needs 20 labelled rows per version from POST "
        "/feedback; 0 (challenger) and 0 (champion) so far; waited 2 of 3 s "
        "(rollout.analysis.labels_wait), then rollback (rollout.analysis.on_missing_labels)"
    )
    state = get_rollout(controller.store, NAME)
    assert state.status == "rolled_back"
    assert state.note.startswith(
        "rolled back version 2: no verdict on live accuracy after 3 s "
        "(rollout.analysis.labels_wait 3 s): live accuracy is required"
    )
    assert state.note.endswith("rollout.analysis.on_missing_labels is rollback")
    assert controller.catalog.aliases(NAME) == {"champion": CHAMPION}
    assert [m[0] for m in recorder.messages][-1] == "rollout_rollback"


def test_a_canary_asked_for_live_accuracy_is_judged_on_every_label_since_it_began(
    project: Path, clock: Clock
) -> None:
    set_rollout(
        project, steps=[50, 100], duration="2s", analysis={"min_live_accuracy_delta": -0.05}
    )
    controller = open_controller(project)
    controller.start()
    serve_traffic(project, clock, n=40)  # 20 requests to each version at 50%
    prefix = f"t{clock.now}"
    clock.advance(1)
    first = controller.tick()
    assert first is not None
    assert first.action == "advance"
    assert get_rollout(controller.store, NAME).weight == 95.0  # the holdback's 5% of keys
    assert controller.status()["next"]["action"].startswith(
        "promote once the challenger is shown no worse than -0.05 in live accuracy on every "
        "label since the start (5% of keys held back on the champion); roll back if it is "
        "shown worse, or with no clear answer by "
    )
    # Labels come now, for the rows served at 50%: none of them is in the last step's window.
    give_labels(project, clock, prefix, 40)
    serve_traffic(project, clock, n=40, challenger_share=0.95)
    clock.advance(1)
    measuring = controller.tick()
    assert measuring is not None
    assert measuring.action == "hold"
    assert measuring.reasons[0].startswith("still measuring: live accuracy difference +0.000")
    assert (
        "(20 vs 20 labelled rows since the rollout began, 5% of keys held back"
        in (measuring.reasons[0])
    )
    serve_traffic(project, clock, n=40, challenger_share=0.95)
    clock.advance(1)
    done = controller.tick()  # 3 s into the last step, past its duration: the end test
    assert done is not None
    assert done.action == "promote"
    assert done.reasons[0].startswith(
        "the challenger is not worse than 0.05: at the end, the one-sided 97.5% lower bound "
        "of the difference is +0.000"
    )
    last = [e for e in rollout_events(controller.store, NAME) if e.kind == "analysis"][-1]
    assert last.figures["analysis"]["challenger"]["labelled"] == 0
    assert last.figures["accumulated"]["challenger"]["labelled"] == 20
    assert get_rollout(controller.store, NAME).status == "promoted"


@pytest.mark.parametrize(("then", "status"), [("promote", "promoted"), ("hold", "running")])
def test_a_shadow_without_labels_does_what_on_missing_labels_says(
    project: Path, clock: Clock, then: str, status: str
) -> None:
    set_rollout(
        project,
        strategy="shadow",
        duration="2s",
        analysis={"min_live_accuracy_delta": -0.05, "on_missing_labels": then},
    )
    controller = open_controller(project)
    controller.start()
    for _ in range(3):
        serve_mirrored(project, clock)
        clock.advance(1)
        controller.tick()
    state = get_rollout(controller.store, NAME)
    assert state.status == status
    last = [e for e in rollout_events(controller.store, NAME) if e.kind == "analysis"][-1]
    assert f"rollout.analysis.on_missing_labels is {then}" in last.message


# --- aliases moved outside the rollout ---------------------------------------------------


def test_a_challenger_removed_by_hand_ends_the_rollout(project: Path, clock: Clock) -> None:
    controller = open_controller(project)
    controller.start()
    controller.catalog.move_alias(NAME, CHALLENGER_ALIAS, None, action="rollback", reason="x")
    clock.advance(1)
    assert controller.tick() is None
    state = get_rollout(controller.store, NAME)
    assert (state.status, state.strategy) == ("rolled_back", "none")
    assert state.note == "ended: version 2 lost its challenger alias"


def test_a_challenger_promoted_by_hand_ends_the_rollout(project: Path, clock: Clock) -> None:
    controller = open_controller(project)
    controller.start()
    aliases.promote(controller.catalog, NAME, CHALLENGER, reason="by hand")
    clock.advance(1)
    assert controller.tick() is None
    state = get_rollout(controller.store, NAME)
    assert (state.status, state.note) == (
        "promoted",
        "ended: version 2 became champion outside the rollout",
    )
    assert kinds(controller) == ["start", "promote"]


# --- the lease: one controller acts ------------------------------------------------------


def test_two_controllers_due_at_once_act_once(project: Path, clock: Clock) -> None:
    first, second = open_controller(project, holder="a"), open_controller(project, holder="b")
    first.start()
    serve_traffic(project, clock)
    clock.advance(1)
    barrier = threading.Barrier(2)
    verdicts: dict[str, Any] = {}

    def tick(name: str, controller: Controller) -> None:
        barrier.wait(timeout=10)
        verdicts[name] = controller.tick()

    threads = [threading.Thread(target=tick, args=(n, c)) for n, c in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(v is None for v in verdicts.values()) == [False, True]
    assert kinds(first) == ["start", "analysis", "step"]
    assert get_rollout(first.store, NAME).weight == 50.0


def test_another_controller_takes_over_when_the_holder_stops(project: Path, clock: Clock) -> None:
    set_rollout(project, lease="1s")
    first, second = open_controller(project, holder="a"), open_controller(project, holder="b")
    first.start()
    serve_traffic(project, clock)
    clock.advance(1)
    assert first.tick() is not None  # a takes the lease and advances to 50%
    serve_traffic(project, clock)
    clock.advance(1)
    assert second.tick() is None  # a's lease runs for another second
    assert get_rollout(first.store, NAME).weight == 50.0
    time.sleep(1.2)  # a stops renewing: its lease runs out
    verdict = second.tick()
    assert verdict is not None
    assert verdict.action == "advance"
    assert get_rollout(first.store, NAME).weight == 100.0
    serve_traffic(project, clock)
    clock.advance(1)
    assert first.tick() is None  # b holds it now
    assert [e.actor for e in rollout_events(first.store, NAME) if e.kind == "step"] == [
        "controller",
        "controller",
    ]


def test_close_gives_the_lease_up(project: Path, clock: Clock) -> None:
    first, second = open_controller(project, holder="a"), open_controller(project, holder="b")
    first.start()
    serve_traffic(project, clock)
    clock.advance(1)
    assert first.tick() is not None
    assert not acquire_lease(second.store, second.lease, "b", ttl=60)
    first.close()
    assert acquire_lease(second.store, second.lease, "b", ttl=60)


def test_run_notifies_once_per_streak_of_errors(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    controller = open_controller(project, notifier=recorder)
    calls = []

    def broken() -> None:
        calls.append(1)
        if len(calls) >= 5:
            stop.set()
        raise RuntimeError("the store is down")

    monkeypatch.setattr(controller, "tick", broken)
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, args=(stop,), kwargs={"every": 0.01})
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert len(calls) == 5
    assert [m[0] for m in recorder.messages] == ["controller_error"]
    assert recorder.messages[0][1] == (
        "mlgate: the rollout controller of credit-risk failed: RuntimeError"
    )


def test_the_plan_is_read_from_the_store_not_the_config(project: Path, clock: Clock) -> None:
    controller = open_controller(project)
    controller.start()
    set_rollout(project, steps=[20, 100])  # a config edited mid-rollout changes nothing
    serve_traffic(project, clock)
    clock.advance(1)
    open_controller(project).tick()
    assert get_rollout(controller.store, NAME).weight == 50.0


def test_an_expired_lease_goes_to_exactly_one_of_many(project: Path) -> None:
    store = open_controller(project).store
    for round_ in range(3):
        assert len(race_for_an_expired_lease(store, f"race-{round_}")) == 1
