"""The rollout controller: analyse live traffic every interval, then act on the verdict.

It runs inside `mlgate serve` (every gateway process has one; a lease in the
state store lets only one act) or alone as `mlgate rollout watch`. Everything
it knows lives in the state store, so a restarted process resumes the rollout
at the same step and weight. Every analysis and every action is an event.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlgate.config.rollout import RolloutConfig
from mlgate.errors import RevisionConflict
from mlgate.processes import holder as new_holder
from mlgate.road import rollouts
from mlgate.rollout.analysis import analyse
from mlgate.rollout.decide import judge
from mlgate.rollout.estimated import estimate_sides
from mlgate.rollout.verdict import Verdict
from mlgate.state.rollout import (
    RolloutState,
    acquire_lease,
    get_rollout,
    release_lease,
    set_rollout,
)

if TYPE_CHECKING:
    from mlgate.project import Project
    from mlgate.registry.bundle import ModelCard

__all__ = ["Controller"]

log = logging.getLogger(__name__)


class Controller:
    """Advances one model's rollout: analyses live traffic and acts on the verdict."""

    def __init__(self, project: Project, *, holder: str | None = None) -> None:
        self.project = project
        self.name = project.name
        self.store = project.state
        self.log_root = project.log_root
        self.holder = holder or new_holder()
        self.lease = f"rollout:{self.name}"
        self._failing = False
        self._cards: dict[str, ModelCard | None] = {}

    # the loop ----------------------------------------------------------------

    def tick(self) -> Verdict | None:
        """Analyse and act if this process holds the lease and an analysis is due."""
        state = self._due()
        if state is None or not acquire_lease(
            self.store, self.lease, self.holder, ttl=_plan(state).lease_ttl
        ):
            return None
        with self.project.acting:  # an admin act of this process waits for the analysis
            return self._act()

    def _act(self) -> Verdict | None:
        """Analyse and act, holding the lease."""
        # Read again under the lease: the previous holder may have acted since.
        state = self._due()
        if state is None or rollouts.settle(self.project, state, "controller") is not None:
            return None
        plan, config, now = dict(state.plan), _plan(state), rollouts.now()
        since = datetime.fromtimestamp(plan["step_started_at"], UTC)
        regression = plan.get("task") == "regression"
        tolerance = config.analysis.regression_tolerance if regression else None
        shadow = config.strategy == "shadow"
        analysis = analyse(self.log_root, self.name, since, tolerance=tolerance, paired=shadow)
        if config.analysis.estimated != "off":
            began = datetime.fromtimestamp(plan["started_at"], UTC)
            champion, challenger = plan["champion"], plan["challenger"]
            analysis.estimated = estimate_sides(
                self.log_root,
                self.name,
                began,
                {v: self._card(v) for v in (champion, challenger)},
                champion=champion,
                challenger=challenger,
            )
        accumulated = None
        if config.holding_back and plan["step"] > 0:
            # A canary's live accuracy is judged on every labelled row since it began.
            began = datetime.fromtimestamp(plan["started_at"], UTC)
            accumulated = analyse(self.log_root, self.name, began, tolerance=tolerance)
        verdict = judge(
            analysis,
            config,
            step=plan["step"],
            failures=plan["failures"],
            elapsed=now - plan["started_at"],
            step_elapsed=now - plan["step_started_at"],
            accumulated=accumulated,
        )
        figures = {
            "analysis": analysis.model_dump(mode="json"),
            "verdict": verdict.model_dump(mode="json"),
        }
        if accumulated is not None:
            figures["accumulated"] = accumulated.model_dump(mode="json")
        message = f"{verdict.action}: {'; '.join(verdict.reasons)}"
        rollouts.record(self.project, state, "analysis", message, figures, "controller")
        if verdict.action in ("promote", "rollback"):
            reason = "; ".join(verdict.reasons)
            rollouts.end_rollout(self.project, state, verdict.action, reason, figures, "controller")
        else:
            self._step(state, verdict, figures, now)
        return verdict

    def _card(self, version: str) -> ModelCard | None:
        """The card of `version` (kept once read); None when it cannot be read."""
        if version not in self._cards:
            from mlgate.errors import MlgateError
            from mlgate.registry.bundle import CARD_FILE, ModelCard

            catalog = self.project.catalog
            try:
                folder = catalog.local_path(catalog.version(self.name, version))
                card: ModelCard | None = ModelCard.model_validate_json(
                    (folder / CARD_FILE).read_bytes()
                )
            except (MlgateError, OSError, ValueError):
                log.warning("no card for version %s of %s: no estimate", version, self.name)
                card = None
            self._cards[version] = card
        return self._cards[version]

    def _due(self) -> RolloutState | None:
        """The running rollout when an analysis of it is due, else None."""
        state = get_rollout(self.store, self.name)
        if state.status != "running" or not state.plan:
            return None
        if rollouts.now() - state.plan["last_analysis_at"] < _plan(state).interval:
            return None
        return state

    def _step(
        self, state: RolloutState, verdict: Verdict, figures: dict[str, Any], now: float
    ) -> None:
        """Hold, or advance to the plan's next step, on record."""
        plan = dict(state.plan)
        plan["last_analysis_at"] = now
        plan["failures"] = verdict.failures
        weight = state.weight
        if verdict.action == "advance":
            plan["step"] += 1
            plan["step_started_at"] = now
            weight = _plan(state).weight_at(plan["step"])
        try:
            updated = set_rollout(
                self.store,
                self.name,
                strategy=state.strategy,
                weight=weight,
                actor="controller",
                status="running",
                plan=plan,
                note=state.note,
                # An act elsewhere (an abort) may have ended the rollout since it was read:
                # a step must not set it running again.
                expect_revision=state.revision,
            )
        except RevisionConflict:
            log.info("the rollout of %s changed during its analysis; not stepping", self.name)
            return
        if verdict.action == "advance":
            said = f"advanced to {weight:g}%"
            if state.strategy == "blue-green":
                said = f"switched all traffic to version {plan['challenger']}: {verdict.reasons[0]}"
            rollouts.record(self.project, updated, "step", said, figures, "controller")

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
                self.project.notifier.notify(
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
        self.project.notifier.close()


def _plan(state: RolloutState) -> RolloutConfig:
    """The plan a running rollout was started with."""
    return RolloutConfig.model_validate(state.plan["config"])
