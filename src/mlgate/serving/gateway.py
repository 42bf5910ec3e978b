"""The gateway's core, free of any web framework: which versions serve, and how.

It loads the champion (and the challenger in a rollout) from the registry,
watches the state store for changes to the split or the aliases, loads new
versions before swapping them in (so no request is dropped), routes each
request with the rollout strategy, and logs every prediction under a request id
it issues. A challenger that cannot be loaded (tampered with, say) is logged and
left out: the champion serves alone. Labels are taken only for the ids it issued.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlgate.config.faults import Faults
from mlgate.errors import InjectedFault, RegistryError, ServeError, VersionFailed
from mlgate.registry.refs import load_ref
from mlgate.registry.versions import CHALLENGER, CHAMPION
from mlgate.rollout.strategies import assign
from mlgate.serving.batch import Batch
from mlgate.serving.faults import wrap
from mlgate.serving.limits import OFF_LOOP_ROWS
from mlgate.serving.metrics import GatewayMetrics
from mlgate.serving.records import entry, table
from mlgate.serving.request_ids import Caller, RequestIds
from mlgate.serving.runtime import Prediction, ServedModel
from mlgate.serving.tokens import TokenGuard
from mlgate.state.keys import shared_key
from mlgate.state.predlog import SegmentWriter
from mlgate.state.rollout import RolloutState, get_rollout, revision

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["Gateway", "Labelled", "Routing", "Served"]

log = logging.getLogger(__name__)

#: Labelled (request id, row) pairs each process remembers, to answer a second label for
#: one as a duplicate; the analyses take the first label of each row whatever a process
#: remembers (see `mlgate.rollout.analysis`).
_REMEMBERED = 100_000


@dataclass(frozen=True)
class Routing:
    """The versions being served and the split between them: swapped whole, never edited."""

    champion: ServedModel
    challenger: ServedModel | None
    rollout: RolloutState
    revision: tuple[int, int]


@dataclass(frozen=True)
class Served:
    """A request's answer and who gave it."""

    prediction: Prediction
    model: ServedModel
    role: str
    request_id: str
    shadow: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Labelled:
    """What became of a request's labels: taken, for an id this gateway never issued, or
    for a row labelled before."""

    accepted: int
    unknown: int
    duplicate: int


def _log_failure(message: str, version: str, error: Exception) -> None:
    """A version's failed prediction, logged; an injected fault is expected by whoever
    injected it, so it is not a warning per request."""
    level = logging.DEBUG if isinstance(error, InjectedFault) else logging.WARNING
    log.log(level, message, version, error)


class Gateway:
    """Serves one config's model from the registry through the rollout strategy."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = project.config
        self.name = project.name
        self.settings = settings = project.settings
        self.catalog = project.catalog
        self.store = project.state
        self.metrics = GatewayMetrics()
        logs = project.log_root
        # Entries, not records: the writer thread builds the rows (`records.table`).
        self.predictions = SegmentWriter(logs, "predictions", build=table)
        self.feedback = SegmentWriter(logs, "feedback")
        self._cache: dict[str, ServedModel] = {}
        self._routing: Routing | None = None
        self._random = random.Random()
        self._loading = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.request_ids = RequestIds(shared_key(self.store, f"request-ids:{self.name}"))
        self._labelled: dict[int, None] = {}
        self._labelling = threading.Lock()
        self.tokens = TokenGuard()
        #: The challenger left out because it could not be loaded: (version, why).
        self.skipped: tuple[str, str] | None = None
        self.faults = Faults.parse(settings.faults or "")
        if self.faults.active:
            log.warning(
                "fault injection is on: %s (to rehearse a rollback; the champion is untouched)",
                self.faults.describe(),
            )

    # loading ---------------------------------------------------------------

    @property
    def routing(self) -> Routing:
        """The current routing; `load()` must have run."""
        if self._routing is None:
            raise ServeError("the gateway has not loaded its models yet")
        return self._routing

    def _served(self, version: str) -> ServedModel:
        found = self._cache.get(version)
        if found is None:
            loaded = load_ref(f"models:/{self.name}/{version}", catalog=self.catalog)
            found = ServedModel.load(loaded, onnx=self.settings.onnx)
            self._cache[version] = found
        return found

    def load(self) -> Routing:
        """Read the aliases and the split, load what is new, then swap it in."""
        with self._loading:  # the watcher and the admin API may both reload
            return self._load()

    def _load(self) -> Routing:
        seen = revision(self.store, self.name)
        rollout = get_rollout(self.store, self.name)
        champion = self.catalog.alias(self.name, CHAMPION)
        if champion is None:
            raise RegistryError(
                f"model {self.name!r} has no champion to serve",
                fix="Run `mlgate run` until a version passes its gates, or "
                f"`mlgate models promote {self.name} VERSION`.",
            )
        challenger = self.catalog.alias(self.name, CHALLENGER)
        routing = Routing(
            champion=self._served(champion.version),
            challenger=self._challenger(challenger.version) if challenger else None,
            rollout=rollout,
            revision=seen,
        )
        keep = {routing.champion.version} | (
            {routing.challenger.version} if routing.challenger else set()
        )
        if self._routing is not None:
            keep.add(self._routing.champion.version)  # instant switch back after a promotion
        self._cache = {v: m for v, m in self._cache.items() if v in keep}
        self._routing = routing
        if routing.challenger:
            self.metrics.set_rollout(self.name, rollout.strategy, rollout.weight)
        else:
            self.metrics.set_rollout(self.name, "none", 0.0)
        return routing

    def _challenger(self, version: str) -> ServedModel | None:
        """The challenger, loaded; None (logged) when it cannot be: the champion serves."""
        try:
            model = wrap(self.faults, self._served(version))
        except Exception as e:  # whatever it is, the champion must go on serving
            skipped = (version, f"{type(e).__name__}: {e}")
            if skipped != self.skipped:
                log.error(
                    "challenger version %s of %s cannot be loaded, so it is not served (the "
                    "champion answers every request): %s",
                    version,
                    self.name,
                    skipped[1],
                )
            self.skipped = skipped
            return None
        self.skipped = None
        return model

    def refresh(self) -> bool:
        """Reload when the state store says something changed; True when it did."""
        with self._loading:
            if self._routing is not None and revision(self.store, self.name) == (
                self._routing.revision
            ):
                return False
            self._load()
            return True

    async def watch(self) -> None:
        """Poll the state store forever; a failed poll is logged and retried."""
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            try:
                changed = await asyncio.to_thread(self.refresh)
                if changed:
                    log.info("routing changed: %s", self.describe())
            except Exception:
                log.exception("could not refresh the routing; serving what is loaded")

    def start(self) -> None:
        """Start the log writers."""
        self.predictions.start()
        self.feedback.start()

    def close(self) -> None:
        """Write every buffered log record; called on graceful shutdown."""
        self.predictions.close()
        self.feedback.close()

    def describe(self) -> dict[str, Any]:
        """What is served now, for status endpoints."""
        r = self.routing
        return {
            "model": self.name,
            "champion": r.champion.version,
            "challenger": r.challenger.version if r.challenger else None,
            "strategy": r.rollout.strategy if r.challenger else "none",
            "weight": r.rollout.weight if r.challenger else 0.0,
            "revision": r.rollout.revision,
            "faults": self.faults.describe() if self.faults.active else None,
            **(
                {"skipped": {"version": self.skipped[0], "error": self.skipped[1]}}
                if self.skipped
                else {}
            ),
            "fast_path": {
                "champion": r.champion.fast,
                "challenger": r.challenger.fast if r.challenger else None,
            },
        }

    # serving ---------------------------------------------------------------

    async def _predict(self, model: ServedModel, batch: Batch) -> Prediction:
        if model.fast and batch.rows <= OFF_LOOP_ROWS:
            return model.predict(batch.columns)
        return await asyncio.to_thread(model.predict, batch.columns)

    def loaded(self, version: str) -> tuple[ServedModel, str] | None:
        """The version, if it is served now, and its role; None for any other version."""
        routing = self.routing
        if version == routing.champion.version:
            return routing.champion, CHAMPION
        if routing.challenger is not None and version == routing.challenger.version:
            return routing.challenger, CHALLENGER
        return None

    async def serve_version(
        self,
        batch: Batch,
        model: ServedModel,
        role: str,
        *,
        route: str,
        caller: Caller,
    ) -> Served:
        """Answer with exactly `model` (a request that named its version): no split, no
        fallback, no off-path copies; logged as served by its role."""
        started = time.perf_counter()
        request_id = self.request_ids.new()
        rollout = self.routing.rollout
        try:
            prediction = await self._predict(model, batch)
        except Exception as e:
            # Logged as the failure it is (a rollout's analysis counts it), then refused:
            # a request that named its version gets that version or an error, no fallback.
            error = f"{type(e).__name__}: {e}"
            self._log(batch, model, role, route, caller, request_id, rollout, None, 0, error)
            _log_failure("version %s failed on a request that named it: %s", model.version, e)
            raise VersionFailed(model.version, error) from e
        elapsed = time.perf_counter() - started
        labels = prediction.labels if model.card.task == "classification" else None
        self.metrics.answered(self.name, model.version, role, route, elapsed, labels)
        self._log(batch, model, role, route, caller, request_id, rollout, prediction, elapsed, None)
        return Served(prediction, model, role, request_id)

    async def serve(self, batch: Batch, *, route: str, caller: Caller) -> Served:
        """Answer one request with the version the strategy picks; log it."""
        started = time.perf_counter()
        routing = self.routing
        rollout = routing.rollout
        challenger = routing.challenger
        chosen = assign(
            rollout.strategy,
            rollout.weight,
            caller.key,
            self._random.random,
            salt=self.name,
            has_challenger=challenger is not None,
        )
        request_id = self.request_ids.new()
        model = challenger if chosen.primary == CHALLENGER and challenger else routing.champion
        role: str = chosen.primary
        error = None
        try:
            if model.fast and batch.rows <= OFF_LOOP_ROWS:  # as `_predict`, with no coroutine
                prediction = model.predict(batch.columns)
            else:
                prediction = await self._predict(model, batch)
        except Exception as e:
            if model is routing.champion or not self.settings.challenger_fallback:
                raise
            _log_failure("challenger %s failed; the champion answers: %s", model.version, e)
            self.metrics.fallbacks.labels(self.name, model.version).inc()
            error = f"{type(e).__name__}: {e}"
            self._log(
                batch, model, "challenger", route, caller, request_id, rollout, None, 0, error
            )
            model, role = routing.champion, CHAMPION
            prediction = await self._predict(model, batch)
        elapsed = time.perf_counter() - started
        self.metrics.answered(
            self.name,
            model.version,
            role,
            route,
            elapsed,
            prediction.labels if model.card.task == "classification" else None,
        )
        self._log(batch, model, role, route, caller, request_id, rollout, prediction, elapsed, None)
        after = None
        if chosen.shadow and challenger is not None:
            after = self._copy(challenger, "shadow", batch, route, caller, request_id, rollout)
        elif role == CHALLENGER:
            # The champion's answer, off the path, so a canary's agreement is measurable.
            after = self._copy(
                routing.champion, "reference", batch, route, caller, request_id, rollout
            )
        return Served(prediction, model, role, request_id, after)

    def _copy(
        self,
        other: ServedModel,
        role: str,
        batch: Batch,
        route: str,
        caller: Caller,
        request_id: str,
        rollout: RolloutState,
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            started = time.perf_counter()
            try:
                prediction = await self._predict(other, batch)
            except Exception as e:  # an off-path answer's failure never reaches users
                if role == "shadow":
                    self.metrics.shadow.labels(self.name, other.version, "error").inc()
                error = f"{type(e).__name__}: {e}"
                self._log(batch, other, role, route, caller, request_id, rollout, None, 0, error)
                return
            elapsed = time.perf_counter() - started
            if role == "shadow":
                self.metrics.shadow.labels(self.name, other.version, "ok").inc()
            self._log(
                batch, other, role, route, caller, request_id, rollout, prediction, elapsed, None
            )

        return run

    def _log(
        self,
        batch: Batch,
        model: ServedModel,
        role: str,
        route: str,
        caller: Caller,
        request_id: str,
        rollout: RolloutState,
        prediction: Prediction | None,
        elapsed: float,
        error: str | None,
    ) -> None:
        # A tuple now; the rows (time, ids, prediction, score, features...) are built in
        # the writer thread, one table per segment (see `records.table`).
        logged = entry(
            time.time_ns(),
            request_id,
            self.name,
            model.version,
            role,
            role in (CHAMPION, CHALLENGER) and error is None,
            rollout.strategy,
            float(rollout.weight),
            caller.key,
            route,
            elapsed * 1e3,
            prediction,
            model.card.task == "regression",
            error,
            batch,
            caller.client_id,
        )
        self.predictions.add(logged, batch.rows)

    def record_feedback(self, items: list[tuple[str, int, Any]]) -> Labelled:
        """Queue ground-truth labels given as (request id, row, label): only for ids this
        gateway issued, and once per row (as far as this process remembers)."""
        now = datetime.now(UTC)
        taken: list[dict[str, Any]] = []
        unknown = duplicate = 0
        with self._labelling:
            for request_id, row, label in items:
                if not self.request_ids.issued(request_id):
                    unknown += 1
                    continue
                seen = hash((request_id, row))
                if seen in self._labelled:
                    duplicate += 1
                    continue
                self._labelled[seen] = None
                if len(self._labelled) > _REMEMBERED:
                    del self._labelled[next(iter(self._labelled))]
                taken.append(
                    {
                        "time": now,
                        "request_id": request_id,
                        "row": row,
                        "label": str(label),
                        "model": self.name,
                    }
                )
        self.feedback.append(taken)
        return Labelled(len(taken), unknown, duplicate)
