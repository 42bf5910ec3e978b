"""A rollout's life on record: start it (deploy), end it, settle it, and say what comes next.

Every face that starts or ends a rollout (the CLI, the admin API, the
controller, the monitor) calls these, so each act is one state change, one
event and one notification.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlgate.config.problems import validation_problems
from mlgate.config.rollout import RolloutConfig
from mlgate.errors import ConfigError, RevisionConflict, RolloutError
from mlgate.registry import aliases
from mlgate.registry.versions import CHALLENGER, CHAMPION
from mlgate.state.rollout import (
    RolloutEvent,
    RolloutState,
    get_rollout,
    record_event,
    rollout_events,
    set_rollout,
)

if TYPE_CHECKING:
    from mlgate.project import Project
    from mlgate.results import RunResult

__all__ = [
    "deploy",
    "end_rollout",
    "plan_of",
    "record",
    "require_running",
    "rollout_status",
    "settle",
    "start_rollout",
]


def _a(strategy: str) -> str:
    """The strategy with its article: 'a canary', 'an A/B'."""
    return "an A/B" if strategy == "ab" else f"a {strategy}"


def now() -> float:
    """Seconds since the epoch: the rollout's clock (tests move it)."""
    import time

    return time.time()


def plan_of(
    project: Project, strategy: str | None = None, steps: list[float] | None = None
) -> RolloutConfig:
    """The config's rollout plan with these overrides, refused as a whole when not valid."""
    overrides: dict[str, Any] = {}
    if strategy is not None:
        overrides["strategy"] = strategy
    if steps is not None:
        overrides["steps"] = steps
    try:
        plan = RolloutConfig.model_validate(project.config.rollout.model_dump() | overrides)
    except ValidationError as e:
        problems = "; ".join(validation_problems(e, RolloutConfig))
        raise ConfigError(
            f"the rollout plan is not valid: {problems}.",
            fix="Steps are percentages that increase, and a canary's steps end at 100 "
            "(e.g. 5,25,50,100); strategies are blue-green, canary, shadow and ab.",
        ) from e
    if steps is not None and plan.strategy != "canary":
        raise ConfigError(
            f"steps apply to a canary; {_a(plan.strategy)} rollout has none",
            field="--steps",
            fix="Drop --steps, or use --strategy canary. Shadow and A/B run for "
            "rollout.duration (or until rollout.sample_size); blue-green switches at once.",
        )
    return plan


def start_rollout(
    project: Project,
    *,
    strategy: str | None = None,
    steps: list[float] | None = None,
    actor: str | None = None,
) -> RolloutState:
    """Begin rolling the challenger out with the configured (or given) plan: deploy."""
    plan = plan_of(project, strategy, steps)
    with project.acting:
        return _start(project, plan, actor or project.actor)


def _start(project: Project, plan: RolloutConfig, actor: str) -> RolloutState:
    name = project.name
    current = get_rollout(project.state, name)
    if current.status == "running":
        if settle(project, current, actor) is None:
            raise RolloutError(
                f"a {current.strategy} rollout of {name!r} is already running",
                fix="Finish it first: mlgate rollout promote, or mlgate rollout abort.",
            )
        current = get_rollout(project.state, name)  # settled just now
    challenger = project.catalog.alias(name, CHALLENGER)
    champion = project.catalog.alias(name, CHAMPION)
    if challenger is None or champion is None:
        raise RolloutError(
            f"model {name!r} has no {'challenger' if champion else 'champion'} to roll out",
            fix="`mlgate run` registers a version that passes its gates as challenger; "
            f"`mlgate models challenger {name} VERSION` makes an earlier one "
            "challenger again.",
        )
    started = now()
    try:
        state = set_rollout(
            project.state,
            name,
            strategy=plan.strategy,
            weight=plan.weight_at(0),
            actor=actor,
            status="running",
            note=f"{plan.strategy} of version {challenger.version} against {champion.version}",
            plan={
                "config": plan.model_dump(mode="json"),
                "step": 0,
                "failures": 0,
                "started_at": started,
                "step_started_at": started,
                "last_analysis_at": started,
                "champion": champion.version,
                "challenger": challenger.version,
                # a regressor's answers agree within a tolerance, not to the letter
                "task": champion.tags.get("mlgate.task") or None,
            },
            # Two starts at once: the state both read is changed by one of them only.
            expect_revision=current.revision,
        )
    except RevisionConflict:
        raise RolloutError(
            f"the rollout of {name!r} changed while this start was being made "
            "(another start, promote or abort at the same moment)",
            fix="See what runs now with `mlgate rollout status`, then start again if needed.",
        ) from None
    record(project, state, "start", f"started: {state.note}", {}, actor)
    return state


def deploy(project: Project, result: RunResult, *, actor: str | None = None) -> RolloutState | None:
    """Start the config's rollout for the version a run registered as challenger; None
    when the run registered none (it failed, or it became the first champion)."""
    registered = result.registration
    if not result.passed or registered is None or registered.alias != CHALLENGER:
        return None
    return start_rollout(project, actor=actor)


def require_running(project: Project, model: str | None = None) -> RolloutState:
    """The running rollout of `model` (the project's own by default), or a RolloutError
    saying none runs."""
    name = model or project.name
    state = get_rollout(project.state, name)
    if state.status != "running":
        raise RolloutError(
            f"no rollout of {name!r} is running (status: {state.status})",
            fix="Start one with mlgate rollout start.",
        )
    return state


def end_rollout(
    project: Project,
    state: RolloutState,
    action: str,
    reason: str,
    figures: dict[str, Any],
    actor: str,
) -> RolloutState:
    """End a running rollout: `promote` makes its challenger champion, `rollback` takes
    the challenger's alias away; either way all traffic goes to the champion.

    The end is on record first, only if the rollout is still at the revision `state`
    was read at (else RevisionConflict, and nothing changes): of a promotion and an
    abort made at once, exactly one wins. Its alias move follows; if that fails, the
    rollout is put back as it was.
    """
    name, challenger = state.model, state.plan.get("challenger")
    if action == "promote":
        status, kind, text = "promoted", "promote", f"promoted version {challenger}"
    else:
        status, kind, text = "rolled_back", "rollback", f"rolled back version {challenger}"
    message = f"{text}: {reason}"
    finished = _end(project, state, status, message, actor)
    try:
        if action == "promote":
            if challenger is not None:
                aliases.promote(project.catalog, name, str(challenger), reason=reason, force=True)
        else:
            current = project.catalog.alias(name, CHALLENGER)
            if current is not None and current.version == str(challenger):
                project.catalog.move_alias(name, CHALLENGER, None, action="rollback", reason=reason)
    except BaseException:
        _restore(project, state, finished)
        raise
    record(project, finished, kind, message, figures, actor)
    return finished


def _end(
    project: Project, state: RolloutState, status: str, message: str, actor: str
) -> RolloutState:
    """The rollout ended with `status`, if it is still at `state`'s revision."""
    return set_rollout(
        project.state,
        state.model,
        strategy="none",
        weight=0.0,
        actor=actor,
        status=status,
        plan=state.plan,
        note=message,
        expect_revision=state.revision,
    )


def _restore(project: Project, state: RolloutState, ended: RolloutState) -> None:
    """Put a rollout whose end could not be carried out back as `state` (unless someone
    changed it since)."""
    with contextlib.suppress(RevisionConflict):
        set_rollout(
            project.state,
            state.model,
            strategy=state.strategy,
            weight=state.weight,
            actor=state.updated_by,
            status=state.status,
            plan=state.plan,
            note=state.note,
            expect_revision=ended.revision,
        )


def settle(project: Project, state: RolloutState, actor: str) -> RolloutState | None:
    """End a running rollout whose versions were moved outside it; None if they were not.

    `mlgate models promote`, the admin API or a newer `mlgate run` can move the
    aliases while a rollout runs; the rollout then judges a version no longer
    served (or against another champion), and would promote it later. It ends
    instead, saying what happened.
    """
    name, wanted = state.model, str(state.plan.get("challenger"))
    challenger = project.catalog.alias(name, CHALLENGER)
    champion = project.catalog.alias(name, CHAMPION)
    planned = state.plan.get("champion")
    if challenger is not None and challenger.version == wanted:
        if champion is None or planned is None or champion.version == str(planned):
            return None
        text = f"version {champion.version} replaced version {planned} as champion"
        return _ended(project, state, "superseded", "superseded", f"ended: {text}", {}, actor)
    if champion is not None and champion.version == wanted:
        status, text = "promoted", f"version {wanted} became champion outside the rollout"
    elif challenger is None:
        status, text = "rolled_back", f"version {wanted} lost its challenger alias"
    else:
        status = "superseded"
        text = f"version {challenger.version} replaced version {wanted} as challenger"
    kind = {"promoted": "promote", "rolled_back": "rollback"}.get(status, status)
    return _ended(project, state, status, kind, f"ended: {text}", {}, actor)


def _ended(
    project: Project,
    state: RolloutState,
    status: str,
    kind: str,
    message: str,
    figures: dict[str, Any],
    actor: str,
) -> RolloutState:
    """A rollout whose versions were moved outside it, ended on record; when someone else
    changed it since `state` was read, the state they left."""
    try:
        finished = _end(project, state, status, message, actor)
    except RevisionConflict:
        return get_rollout(project.state, state.model)
    record(project, finished, kind, message, figures, actor)
    return finished


def record(
    project: Project,
    state: RolloutState,
    kind: str,
    message: str,
    figures: dict[str, Any],
    actor: str,
) -> RolloutEvent:
    """One rollout event on record, and on the webhook (but for analyses that hold)."""
    name = state.model
    event = record_event(
        project.state,
        name,
        kind=kind,
        strategy=state.strategy,
        weight=state.weight,
        step=int(state.plan.get("step", 0)) if state.plan else 0,
        message=message,
        figures=figures,
        actor=actor,
    )
    if kind != "analysis" or not message.startswith("hold"):
        project.notifier.notify(
            f"rollout_{kind}",
            f"mlgate {name}: {message}",
            model=name,
            strategy=state.strategy,
            weight=state.weight,
            step=event.step,
        )
    return event


def rollout_status(project: Project) -> dict[str, Any]:
    """The state, the plan, the last events, what happens next and the latest analysis's
    estimated performance (a model that is not registered is an error, not an idle
    rollout)."""
    project.catalog.aliases(project.name)  # refuses an unknown model, naming the known ones
    state = get_rollout(project.state, project.name)
    events = rollout_events(project.state, project.name, limit=20)
    plan = state.plan
    upcoming = None
    if state.status == "running" and plan:
        config = RolloutConfig.model_validate(plan["config"])
        due = plan["last_analysis_at"] + config.interval
        upcoming = {
            "analysis_at": datetime.fromtimestamp(due, UTC).isoformat(),
            "in_seconds": max(0.0, due - now()),
            "step": plan["step"],
            "of_steps": _steps(config),
            "action": _next_action(config, plan),
        }
    return {
        "state": state.model_dump(mode="json"),
        "next": upcoming,
        "events": [e.model_dump(mode="json") for e in events],
        "estimated": _estimated(plan, events),
    }


def _estimated(plan: dict[str, Any], events: list[RolloutEvent]) -> dict[str, Any] | None:
    """The latest analysis's estimated performance of this rollout, with what the plan
    does with it (rollout.analysis.estimated); None when its analyses estimated none."""
    for event in reversed(events):
        if event.kind == "start":
            return None
        figures = event.figures.get("analysis", {}).get("estimated")
        if event.kind == "analysis" and figures:
            config = plan.get("config")
            mode = RolloutConfig.model_validate(config).analysis.estimated if config else None
            return {"mode": mode, "at": event.at.isoformat(), "figures": figures}
    return None


def _steps(config: RolloutConfig) -> int:
    """How many steps the plan has: a canary's weights; a blue-green's analysis before
    and after its switch."""
    if config.strategy == "canary":
        return len(config.steps)
    return 2 if config.pre_switching else 1


def _next_action(config: RolloutConfig, plan: dict[str, Any]) -> str:
    """What the next analysis does if the live figures hold, in words."""
    left = config.failure_limit - int(plan.get("failures", 0))
    fails = f"; rolls back after {left} more failed analys{'is' if left == 1 else 'es'}"
    if config.strategy == "canary" and plan["step"] < len(config.steps) - 1:
        return f"advance to {config.weight_at(plan['step'] + 1):g}% if every check passes{fails}"
    if config.pre_switching and plan["step"] == 0:
        return (
            "switch all traffic to the challenger if every check passes on the copies of "
            f"live requests it answers off the path (the pre-switch analysis){fails}"
        )
    if config.holding_back:
        ends = datetime.fromtimestamp(plan["step_started_at"] + config.max_duration, UTC)
        return (
            f"promote once the challenger is shown no worse than {config.live_accuracy_floor:+g} "
            f"in live accuracy on every label since the start ({config.holdback:g}% of keys "
            "held back on the champion); roll back if it is shown worse, or with no clear "
            f"answer by {ends.isoformat(timespec='seconds')}{fails}"
        )
    if config.strategy in ("canary", "blue-green"):
        return f"promote if every check passes{fails}"
    ends = datetime.fromtimestamp(plan["started_at"] + config.max_duration, UTC)
    until = f"by {ends.isoformat(timespec='seconds')}"
    if config.sample_size is not None:
        until += f" or at {config.sample_size} labelled rows per version"
    if config.strategy == "shadow" and config.needs_labels:
        return (
            f"promote once the challenger is shown no worse than {config.live_accuracy_floor:+g} "
            "in live accuracy on the labelled rows both versions answered; roll back if it is "
            f"shown worse, or with no clear answer {until}{fails}"
        )
    if config.strategy == "shadow":
        return f"promote {until} if every check passes{fails}"
    return (
        f"promote once the challenger is shown no worse than {config.margin:g} in live "
        f"accuracy; roll back if it is shown worse, or with no clear answer {until}"
    )
