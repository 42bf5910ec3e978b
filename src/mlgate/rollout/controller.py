"""The rollout controller: analyse live traffic every interval, then act on the verdict.

It runs inside `mlgate serve` (every gateway process has one; a lease in the
state store lets only one act) or alone as `mlgate rollout watch`. Everything
it knows lives in the state store, so a restarted process resumes the rollout
at the same step and weight. Every analysis and every action is an event.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from mlgate.config.loader import validation_problems
from mlgate.config.models import PipelineConfig
from mlgate.config.rollout import RolloutConfig
from mlgate.config.settings import Settings
from mlgate.errors import ConfigError, RevisionConflict, RolloutError
from mlgate.registry.catalog import CHALLENGER, CHAMPION, Catalog
from mlgate.reporting.notify import Notifier
from mlgate.rollout.analysis import analyse
from mlgate.rollout.decide import Verdict, judge
from mlgate.state.rollout import (
    RolloutEvent,
    RolloutState,
    acquire_lease,
    get_rollout,
    record_event,
    release_lease,
    rollout_events,
    set_rollout,
)

__all__ = ["Controller", "RolloutError"]

log = logging.getLogger(__name__)


def _a(strategy: str) -> str:
    """The strategy with its article: 'a canary', 'an A/B'."""
    return "an A/B" if strategy == "ab" else f"a {strategy}"


def _now() -> float:
    return time.time()


class Controller:
    """Starts, advances, promotes and rolls back one model's rollouts."""

    def __init__(
        self,
        config: PipelineConfig,
        catalog: Catalog,
        settings: Settings,
        *,
        notifier: Notifier | None = None,
        holder: str | None = None,
    ) -> None:
        self.name = config.name
        self.plan_config = config.rollout
        self.catalog = catalog
        self.store = catalog.state
        self.log_root = settings.logs(config.base_dir)
        url = config.rollout.webhook or os.environ.get("MLGATE_WEBHOOK_URL")
        self.notifier = notifier or Notifier(url)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = f"rollout:{self.name}"
        self._failing = False

    # commands ----------------------------------------------------------------

    def start(
        self,
        *,
        strategy: str | None = None,
        steps: list[float] | None = None,
        actor: str = "mlgate",
    ) -> RolloutState:
        """Begin rolling the challenger out with the configured (or given) plan."""
        overrides: dict[str, Any] = {}
        if strategy is not None:
            overrides["strategy"] = strategy
        if steps is not None:
            overrides["steps"] = steps
        try:
            plan = RolloutConfig.model_validate(self.plan_config.model_dump() | overrides)
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
        current = get_rollout(self.store, self.name)
        if current.status == "running":
            if self._settle(current, actor) is None:
                raise RolloutError(
                    f"a {current.strategy} rollout of {self.name!r} is already running",
                    fix="Finish it first: mlgate rollout promote, or mlgate rollout abort.",
                )
            current = get_rollout(self.store, self.name)  # settled just now
        challenger = self.catalog.alias(self.name, CHALLENGER)
        champion = self.catalog.alias(self.name, CHAMPION)
        if challenger is None or champion is None:
            raise RolloutError(
                f"model {self.name!r} has no {'challenger' if champion else 'champion'} "
                "to roll out",
                fix="`mlgate run` registers a version that passes its gates as challenger; "
                f"`mlgate models challenger {self.name} VERSION` makes an earlier one "
                "challenger again.",
            )
        weight = _weight(plan, 0)
        now = _now()
        try:
            state = set_rollout(
                self.store,
                self.name,
                strategy=plan.strategy,
                weight=weight,
                actor=actor,
                status="running",
                note=f"{plan.strategy} of version {challenger.version} against {champion.version}",
                plan={
                    "config": plan.model_dump(mode="json"),
                    "step": 0,
                    "failures": 0,
                    "started_at": now,
                    "step_started_at": now,
                    "last_analysis_at": now,
                    "champion": champion.version,
                    "challenger": challenger.version,
                },
                # Two starts at once: the state both read is changed by one of them only.
                expect_revision=current.revision,
            )
        except RevisionConflict:
            raise RolloutError(
                f"the rollout of {self.name!r} changed while this start was being made "
                "(another start, promote or abort at the same moment)",
                fix="See what runs now with `mlgate rollout status`, then start again if needed.",
            ) from None
        self._event(state, "start", f"started: {state.note}", {}, actor)
        return state

    def promote(self, *, actor: str, reason: str = "promoted by hand") -> RolloutState:
        """Finish now: the challenger becomes champion."""
        state = self._running()
        return self._finish(state, "promote", reason, {}, actor)

    def abort(self, *, actor: str, reason: str = "aborted by hand") -> RolloutState:
        """Roll back now: all traffic to the champion; the challenger loses its alias."""
        state = self._running()
        return self._finish(state, "rollback", reason, {}, actor)

    def status(self) -> dict[str, Any]:
        """The state, the plan, the last events and what happens next."""
        state = get_rollout(self.store, self.name)
        events = rollout_events(self.store, self.name, limit=20)
        plan = state.plan
        upcoming = None
        if state.status == "running" and plan:
            config = RolloutConfig.model_validate(plan["config"])
            due = plan["last_analysis_at"] + config.interval
            upcoming = {
                "analysis_at": datetime.fromtimestamp(due, UTC).isoformat(),
                "in_seconds": max(0.0, due - _now()),
                "step": plan["step"],
                "of_steps": len(config.steps) if config.strategy == "canary" else 1,
                "action": _next_action(config, plan),
            }
        return {
            "state": state.model_dump(mode="json"),
            "next": upcoming,
            "events": [e.model_dump(mode="json") for e in events],
        }

    # the loop ----------------------------------------------------------------

    def tick(self) -> Verdict | None:
        """Analyse and act if this process holds the lease and an analysis is due."""
        state = get_rollout(self.store, self.name)
        if state.status != "running" or not state.plan:
            return None
        config = RolloutConfig.model_validate(state.plan["config"])
        if _now() - state.plan["last_analysis_at"] < config.interval:
            return None
        if not acquire_lease(self.store, self.lease, self.holder, ttl=config.lease_ttl):
            return None
        # Read again under the lease: the previous holder may have acted since.
        state = get_rollout(self.store, self.name)
        if state.status != "running" or not state.plan:
            return None
        plan = dict(state.plan)
        config = RolloutConfig.model_validate(plan["config"])
        now = _now()
        if now - plan["last_analysis_at"] < config.interval:
            return None
        if self._settle(state, "controller") is not None:
            return None
        since = datetime.fromtimestamp(plan["step_started_at"], UTC)
        analysis = analyse(self.log_root, self.name, since)
        verdict = judge(
            analysis,
            config,
            step=plan["step"],
            failures=plan["failures"],
            elapsed=now - plan["started_at"],
        )
        figures = {
            "analysis": analysis.model_dump(mode="json"),
            "verdict": verdict.model_dump(mode="json"),
        }
        self._event(
            state,
            "analysis",
            f"{verdict.action}: {'; '.join(verdict.reasons)}",
            figures,
            "controller",
        )
        if verdict.action in ("promote", "rollback"):
            self._finish(state, verdict.action, "; ".join(verdict.reasons), figures, "controller")
            return verdict
        plan["last_analysis_at"] = now
        plan["failures"] = verdict.failures
        weight = state.weight
        if verdict.action == "advance":
            plan["step"] += 1
            plan["step_started_at"] = now
            weight = _weight(config, plan["step"])
        updated = set_rollout(
            self.store,
            self.name,
            strategy=state.strategy,
            weight=weight,
            actor="controller",
            status="running",
            plan=plan,
            note=state.note,
        )
        if verdict.action == "advance":
            self._event(updated, "step", f"advanced to {weight:g}%", figures, "controller")
        return verdict

    def run(self, stop: threading.Event, *, every: float = 1.0) -> None:
        """Tick until `stop` is set; errors are logged and retried, and notified once a streak."""
        while not stop.wait(every):
            try:
                self.tick()
            except Exception as e:
                if self._failing:  # a store that is down fails every second: one traceback
                    log.warning("rollout controller still failing: %s", type(e).__name__)
                    continue
                self._failing = True
                log.exception("rollout controller error")
                self.notifier.notify(
                    "controller_error",
                    f"mlgate: the rollout controller of {self.name} failed: {type(e).__name__}",
                    model=self.name,
                )
            else:
                self._failing = False

    def close(self) -> None:
        """Give up the lease (another gateway need not wait it out) and deliver notifications."""
        try:
            release_lease(self.store, self.lease, self.holder)
        except Exception:  # shutting down with the store unreachable: the lease expires
            log.warning("could not release the rollout lease %s", self.lease)
        self.notifier.close()

    # helpers -----------------------------------------------------------------

    def _running(self) -> RolloutState:
        state = get_rollout(self.store, self.name)
        if state.status != "running":
            raise RolloutError(
                f"no rollout of {self.name!r} is running (status: {state.status})",
                fix="Start one with mlgate rollout start.",
            )
        return state

    def _settle(self, state: RolloutState, actor: str) -> RolloutState | None:
        """End a running rollout whose challenger was moved outside it; None if it was not.

        `mlgate models promote`, the admin API or a newer `mlgate run` can move the
        aliases while a rollout runs; the rollout then judges a version no longer
        served, and would promote it later. It ends instead, saying what happened.
        """
        wanted = str(state.plan.get("challenger"))
        challenger = self.catalog.alias(self.name, CHALLENGER)
        if challenger is not None and challenger.version == wanted:
            return None
        champion = self.catalog.alias(self.name, CHAMPION)
        if champion is not None and champion.version == wanted:
            status, text = "promoted", f"version {wanted} became champion outside the rollout"
        elif challenger is None:
            status, text = "rolled_back", f"version {wanted} lost its challenger alias"
        else:
            status = "superseded"
            text = f"version {challenger.version} replaced version {wanted} as challenger"
        finished = set_rollout(
            self.store,
            self.name,
            strategy="none",
            weight=0.0,
            actor=actor,
            status=status,
            plan=state.plan,
            note=f"ended: {text}",
        )
        kind = {"promoted": "promote", "rolled_back": "rollback"}.get(status, status)
        self._event(finished, kind, f"ended: {text}", {}, actor)
        return finished

    def _finish(
        self, state: RolloutState, action: str, reason: str, figures: dict[str, Any], actor: str
    ) -> RolloutState:
        challenger = state.plan.get("challenger")
        if action == "promote":
            if challenger is not None:
                self.catalog.promote(self.name, str(challenger), reason=reason, force=True)
            status, kind, text = "promoted", "promote", f"promoted version {challenger}"
        else:
            current = self.catalog.alias(self.name, CHALLENGER)
            if current is not None and current.version == str(challenger):
                self.catalog.move_alias(
                    self.name, CHALLENGER, None, action="rollback", reason=reason
                )
            status, kind, text = "rolled_back", "rollback", f"rolled back version {challenger}"
        finished = set_rollout(
            self.store,
            self.name,
            strategy="none",
            weight=0.0,
            actor=actor,
            status=status,
            plan=state.plan,
            note=f"{text}: {reason}",
        )
        self._event(finished, kind, f"{text}: {reason}", figures, actor)
        return finished

    def _event(
        self, state: RolloutState, kind: str, message: str, figures: dict[str, Any], actor: str
    ) -> RolloutEvent:
        event = record_event(
            self.store,
            self.name,
            kind=kind,
            strategy=state.strategy,
            weight=state.weight,
            step=int(state.plan.get("step", 0)) if state.plan else 0,
            message=message,
            figures=figures,
            actor=actor,
        )
        if kind != "analysis" or not message.startswith("hold"):
            self.notifier.notify(
                f"rollout_{kind}",
                f"mlgate {self.name}: {message}",
                model=self.name,
                strategy=state.strategy,
                weight=state.weight,
                step=event.step,
            )
        return event


def _next_action(config: RolloutConfig, plan: dict[str, Any]) -> str:
    """What the next analysis does if the live figures hold, in words."""
    left = config.failure_limit - int(plan.get("failures", 0))
    fails = f"; rolls back after {left} more failed analys{'is' if left == 1 else 'es'}"
    if config.strategy == "canary" and plan["step"] < len(config.steps) - 1:
        return f"advance to {config.steps[plan['step'] + 1]:g}% if every check passes{fails}"
    if config.strategy in ("canary", "blue-green"):
        return f"promote if every check passes{fails}"
    ends = datetime.fromtimestamp(plan["started_at"] + config.max_duration, UTC)
    until = f"by {ends.isoformat(timespec='seconds')}"
    if config.sample_size is not None:
        until += f" or at {config.sample_size} labelled rows per version"
    if config.strategy == "shadow":
        return f"promote {until} if every check passes{fails}"
    return (
        f"promote once the challenger is shown no worse than {config.margin:g} in live "
        f"accuracy; roll back if it is shown worse, or with no clear answer {until}"
    )


def _weight(plan: RolloutConfig, step: int) -> float:
    if plan.strategy == "canary":
        return plan.steps[min(step, len(plan.steps) - 1)]
    if plan.strategy == "blue-green":
        return 100.0
    if plan.strategy == "ab":
        return plan.weight
    return 0.0
