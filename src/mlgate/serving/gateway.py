"""The gateway's core, free of any web framework: which versions serve, and how.

It loads the champion (and the challenger in a rollout) from the registry,
watches the state store for changes to the split or the aliases, loads new
versions before swapping them in (so no request is dropped), routes each
request with the rollout strategy, and logs every prediction under a request id
it issues. A challenger that cannot be loaded (tampered with, say) is logged and
left out: the champion serves alone. Labels are taken only for the ids it issued.

Every answer's record is written to the log's spool before the answer is sent;
one that cannot be written (a full disk) is refused with 503 `LogUnavailable`,
never answered unrecorded, and readiness turns 503 when that lasts longer than
MLGATE_LOG_GRACE. The spool files become Parquet segments in another process
under `mlgate serve`, or on a thread of this one (`convert=True`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.config.faults import Faults
from mlgate.errors import (
    InjectedFault,
    LogUnavailable,
    RegistryError,
    ServeError,
    VersionFailed,
)
from mlgate.registry.refs import load_ref
from mlgate.registry.versions import CHALLENGER, CHAMPION
from mlgate.rollout.strategies import assign
from mlgate.serving.batch import Batch
from mlgate.serving.faults import wrap
from mlgate.serving.limits import OFF_LOOP_ROWS
from mlgate.serving.metrics import GatewayMetrics
from mlgate.serving.records import encode_feedback, encode_prediction
from mlgate.serving.request_ids import Caller, RequestIds
from mlgate.serving.runtime import Prediction, ServedModel
from mlgate.serving.tokens import TokenGuard
from mlgate.state.convert import Converter, read_status
from mlgate.state.keys import shared_key
from mlgate.state.predlog import check_writable
from mlgate.state.rollout import RolloutState, get_rollout, revision
from mlgate.state.spool import Spool

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

    def __init__(self, project: Project, *, convert: bool = True) -> None:
        self.project = project
        self.config = project.config
        self.name = project.name
        self.settings = settings = project.settings
        self.catalog = project.catalog
        self.store = project.state
        self.metrics = GatewayMetrics()
        self.log_root = project.log_root
        self.spool_root = project.spool_root
        sync = settings.log_sync_interval
        self.predictions = Spool(
            self.spool_root,
            "predictions",
            sync_interval=sync,
            refused="the answer was not sent",
            on_failure=lambda: self.metrics.log_failures.labels(self.name, "predictions").inc(),
        )
        self.feedback = Spool(
            self.spool_root,
            "feedback",
            sync_interval=sync,
            refused="the labels were not taken",
            on_failure=lambda: self.metrics.log_failures.labels(self.name, "feedback").inc(),
        )
        #: Converts spool files to segments on a thread of this process; None when another
        #: process does (`mlgate serve`).
        self.converter = Converter(self.spool_root, self.log_root) if convert else None
        self.metrics.log_health = self.log_health
        self.metrics.state_health = self.state_health
        #: When the state store last answered a poll (monotonic), and the last poll's error.
        self._polled_at = time.monotonic()
        self._poll_error: str | None = None
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
            # Served on ONNX Runtime, a version's own model is built only when something
            # needs it (an explanation): until then no scikit-learn is imported nor held.
            onnx = self.settings.onnx
            loaded = load_ref(f"models:/{self.name}/{version}", catalog=self.catalog, defer=onnx)
            found = ServedModel.load(loaded, onnx=onnx)
            self._cache[version] = found
        return found

    def load(self) -> Routing:
        """Read the aliases and the split, load what is new, then swap it in."""
        with self._loading:  # the watcher and the admin API may both reload
            return self._load()

    def _load(self) -> Routing:
        seen = revision(self.store, self.name)
        rollout = get_rollout(self.store, self.name)
        pinned = self.settings.pinned_version
        # Another controller (Argo Rollouts, Flagger) moves the traffic between replicas:
        # a pinned one serves its version alone, and mlgate's split has nothing to route to.
        champion = (
            self.catalog.version(self.name, pinned)
            if pinned is not None
            else self.catalog.alias(self.name, CHAMPION)
        )
        if champion is None:
            raise RegistryError(
                f"model {self.name!r} has no champion to serve",
                fix="Run `mlgate run` until a version passes its gates, or "
                f"`mlgate models promote {self.name} VERSION`.",
            )
        challenger = None if pinned is not None else self.catalog.alias(self.name, CHALLENGER)
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
        # The store answered: what is served is its current split, whoever asked for it.
        self._polled_at = time.monotonic()
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
            except Exception as e:
                if self._poll_error is None:
                    log.exception("could not refresh the routing; serving what is loaded")
                self._poll_error = f"{type(e).__name__}: {str(e).strip()[:300]}"
                continue
            if self._poll_error is not None:
                log.warning("the state store answers again; the routing is current")
            self._polled_at, self._poll_error = time.monotonic(), None
            if changed:
                log.info("routing changed: %s", self.describe())

    def state_health(self) -> dict[str, Any]:
        """Whether the split served is the state store's current one: `current` is false
        once no poll has succeeded for three poll intervals (at least 2 s), as when the
        network to the store is cut; the gateway then goes on serving the split it last
        read (`weight`, `revision`), so requests keep being answered."""
        age = time.monotonic() - self._polled_at
        current = age <= max(3 * self.settings.poll_interval, 2.0)
        routing = self._routing
        return {
            "current": current,
            "last_poll_s_ago": round(age, 3),
            "error": self._poll_error,
            "revision": routing.revision if routing else None,
            "weight": routing.rollout.weight if routing and routing.challenger else 0.0,
        }

    # the log ----------------------------------------------------------------

    def check_logs(self) -> None:
        """ConfigError when the spool or the log cannot be written."""
        for spool in (self.predictions, self.feedback):
            check_writable(self.log_root, spool.kind)
        for spool in (self.predictions, self.feedback):
            spool.check()

    def start(self) -> None:
        """Open the spools (with their fsync threads), and the converter's thread if any."""
        self.predictions.start()
        self.feedback.start()
        if self.converter is not None:
            self.converter.start()

    def close(self) -> None:
        """Close the spools; convert what they hold when this process converts. Called
        on graceful shutdown."""
        self.predictions.close()
        self.feedback.close()
        if self.converter is not None:
            self.converter.close()

    def flush_logs(self) -> int:
        """Make every record spooled so far a segment now; the rows written."""
        self.predictions.rotate()
        self.feedback.rotate()
        converter = self.converter or Converter(self.spool_root, self.log_root)
        before: int = sum(s["rows"] for s in converter.status.values())
        converter.drain(10.0)
        after: int = sum(s["rows"] for s in converter.status.values())
        return after - before

    def log_health(self) -> dict[str, Any]:
        """The log's state, for health checks: `ready` is false once a spool has failed
        for longer than MLGATE_LOG_GRACE; then each spool's and the converter's figures."""
        grace = self.settings.log_grace
        spools = {s.kind: s.state() for s in (self.predictions, self.feedback)}
        failing = [
            f"{kind}: {state['last_error']} for {state['failing_for_s']:.1f} s"
            for kind, state in spools.items()
            if state["failing_for_s"] is not None and state["failing_for_s"] > grace
        ]
        status = read_status(self.spool_root)
        converter = None
        if status is not None:
            now = time.time()
            converter = {
                "updated_s_ago": round(now - float(status.get("updated", now)), 3),
                **{
                    kind: {
                        **{k: v for k, v in figures.items() if k != "failing_since"},
                        "failing_for_s": None
                        if figures.get("failing_since") is None
                        else round(now - figures["failing_since"], 3),
                    }
                    for kind, figures in (status.get("kinds") or {}).items()
                },
            }
        return {
            "ready": not failing,
            "problem": "; ".join(failing) or None,
            "spool": spools,
            "converter": converter,
        }

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
        request_id = self.request_ids.new(batch.rows)
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
        self._log(batch, model, role, route, caller, request_id, rollout, prediction, elapsed, None)
        labels = prediction.labels if model.card.task == "classification" else None
        self.metrics.answered(self.name, model.version, role, route, elapsed, labels)
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
        request_id = self.request_ids.new(batch.rows)
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
        # Recorded before it is counted or sent: LogUnavailable (503) when it cannot be.
        self._log(batch, model, role, route, caller, request_id, rollout, prediction, elapsed, None)
        self.metrics.answered(
            self.name,
            model.version,
            role,
            route,
            elapsed,
            prediction.labels if model.card.task == "classification" else None,
        )
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
            prediction: Prediction | None
            error: str | None
            try:
                prediction = await self._predict(other, batch)
            except Exception as e:  # an off-path answer's failure never reaches users
                if role == "shadow":
                    self.metrics.shadow.labels(self.name, other.version, "error").inc()
                error = f"{type(e).__name__}: {e}"
                prediction, elapsed = None, 0.0
            else:
                error, elapsed = None, time.perf_counter() - started
                if role == "shadow":
                    self.metrics.shadow.labels(self.name, other.version, "ok").inc()
            # The user has the answer already: a record the spool refuses is counted there.
            with contextlib.suppress(LogUnavailable):
                self._log(
                    *(batch, other, role, route, caller, request_id, rollout),
                    *(prediction, elapsed, error),
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
        # One line, written before the answer is sent; the converter makes rows of it.
        line = encode_prediction(
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
            arm=self.settings.arm,
        )
        self.predictions.write(line)

    def record_feedback(self, items: list[tuple[str, int, Any]]) -> Labelled:
        """Spool ground-truth labels given as (request id, row, label): only for ids this
        gateway issued, and once per row (as far as this process remembers).
        LogUnavailable (and none taken) when the spool cannot take them."""
        taken: list[tuple[str, int, str]] = []
        marked: list[int] = []
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
                marked.append(seen)
                taken.append((request_id, row, str(label)))
            try:
                if taken:
                    line = encode_feedback(time.time_ns(), taken, self.name)
                    self.feedback.write(line, len(taken))
            except LogUnavailable:  # not taken: the same labels may be sent again
                for seen in marked:
                    self._labelled.pop(seen, None)
                raise
            while len(self._labelled) > _REMEMBERED:
                del self._labelled[next(iter(self._labelled))]
        return Labelled(len(taken), unknown, duplicate)
