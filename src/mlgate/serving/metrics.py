"""Prometheus metrics of the gateway: requests, errors, latency, classes, rollout weight.

Each app gets its own registry, so several apps in one process (tests) do not
collide. With PROMETHEUS_MULTIPROC_DIR set (several workers), `/metrics`
aggregates every worker's files instead.

Answered requests are counted in plain Python first and added to the Prometheus
metrics in bulk by `flush` (a few times a second, and before every `/metrics`
answer): a multiprocess metric writes a memory-mapped file under a lock at every
increment, and one answer touches four of them. So another worker's last fraction
of a second may not be in a `/metrics` answer yet; the answering worker's always is.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlgate.config.rollout import STRATEGIES

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics"]

#: Most predicted-class children kept at hand (classes are few; this only bounds memory).
_MAX_CACHED = 10_000
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    """The gateway's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # labels() validates and looks its child up under a lock on every call: the
        # hot path keeps the children it has used (a few per version) instead.
        self._answered: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        self._classes: dict[tuple[str, str, str], Any] = {}
        # Counted, not yet added (see `flush`): per answered key [count, seconds, buckets],
        # and per predicted class a count.
        self._pending: dict[tuple[str, str, str, str], list[Any]] = {}
        self._pending_classes: dict[tuple[str, str, str], int] = {}
        self.requests = Counter(
            "mlgate_requests",
            "Prediction requests answered, by version, role and route.",
            ["model", "version", "role", "route"],
            registry=r,
        )
        self.errors = Counter(
            "mlgate_request_errors",
            "Requests refused or failed, by route and error code.",
            ["model", "route", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "mlgate_request_latency_seconds",
            "Time from request to response, by version and route.",
            ["model", "version", "route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.predicted = Counter(
            "mlgate_predicted_class",
            "Predicted classes (classifiers), by version.",
            ["model", "version", "label"],
            registry=r,
        )
        # Labelled by model only: a strategy label would leave the last weight of a finished
        # rollout behind as a series of its own. The strategy is a 0/1 gauge beside it.
        self.weight = Gauge(
            "mlgate_rollout_weight",
            "Percent of traffic sent to the challenger.",
            ["model"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.strategy = Gauge(
            "mlgate_rollout_strategy",
            "1 for the rollout strategy in force, 0 for the others.",
            ["model", "strategy"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.shadow = Counter(
            "mlgate_shadow_predictions",
            "Copies of requests the challenger answered off the response path, by outcome.",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.feedback = Counter(
            "mlgate_feedback_labels",
            "Ground-truth labels sent to /feedback, by outcome: accepted, unknown (a request "
            "id the gateway never issued) or duplicate (a row labelled before).",
            ["model", "outcome"],
            registry=r,
        )
        self.fallbacks = Counter(
            "mlgate_challenger_fallbacks",
            "Requests the champion answered because the challenger failed.",
            ["model", "version"],
            registry=r,
        )
        self.ignored = Counter(
            "mlgate_ignored_columns",
            "Columns sent to /invocations that the model does not use (an id, a DataFrame's "
            "index), ignored as MLflow's scoring server ignores them.",
            ["model", "route"],
            registry=r,
        )
        self.log_failures = Counter(
            "mlgate_log_write_failures",
            "Records the log's spool could not take (a full disk, say), by kind of log: "
            "each such answer was refused with 503, each such label not taken.",
            ["model", "kind"],
            registry=r,
        )
        from mlgate.serving.connections import REFUSED

        r.register(REFUSED)
        #: The gateway's `log_health`, read at each scrape (see `LogCollector`).
        self.log_health: Callable[[], dict[str, Any]] | None = None
        #: The gateway's `state_health`, read at each scrape (see `StateCollector`).
        self.state_health: Callable[[], dict[str, Any]] | None = None
        self._log_collector = LogCollector(self)
        r.register(self._log_collector)
        self._state_collector = StateCollector(self)
        r.register(self._state_collector)

    def render(self) -> bytes:
        """The text exposition of every metric (all workers' in multiprocess mode)."""
        self.flush()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            combined.register(self._log_collector)
            combined.register(self._state_collector)
            return generate_latest(combined)
        return generate_latest(self.registry)

    def set_rollout(self, model: str, strategy: str, weight: float) -> None:
        """Show the split in force: the challenger's weight and the strategy."""
        self.weight.labels(model).set(weight)
        for name in STRATEGIES:
            self.strategy.labels(model, name).set(1.0 if name == strategy else 0.0)

    def answered(
        self,
        model: str,
        version: str,
        role: str,
        route: str,
        seconds: float,
        classes: list[Any] | None,
    ) -> None:
        """Count one answered request and its latency; `classes`: the labels a classifier gave."""
        key = (model, version, role, route)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = [0, 0.0, [0] * (len(_BUCKETS) + 1)]
        pending[0] += 1
        pending[1] += seconds
        pending[2][bisect_left(_BUCKETS, seconds)] += 1  # a histogram's bucket: bound >= value
        if classes is not None:
            counts = self._pending_classes
            for label in classes:
                at = (model, version, str(label))
                counts[at] = counts.get(at, 0) + 1

    def flush(self) -> None:
        """Add what `answered` counted to the Prometheus metrics."""
        pending, self._pending = self._pending, {}
        classes, self._pending_classes = self._pending_classes, {}
        for key, (count, seconds, buckets) in pending.items():
            children = self._answered.get(key)
            if children is None:
                model, version, role, route = key
                children = (
                    self.requests.labels(model, version, role, route),
                    self.latency.labels(model, version, route),
                )
                self._answered[key] = children
            requests, latency = children
            requests.inc(count)
            # Histogram.observe, for many observations at once: the sum, then each
            # bucket's count (prometheus_client keeps them per bucket, not cumulative).
            latency._sum.inc(seconds)
            for bucket, n in zip(latency._buckets, buckets, strict=True):
                if n:
                    bucket.inc(n)
        for (model, version, label), count in classes.items():
            self._predicted(model, version, label).inc(count)

    def _predicted(self, model: str, version: str, label: str) -> Any:
        key = (model, version, label)
        child = self._classes.get(key)
        if child is None:
            child = self.predicted.labels(model, version, label)
            if len(self._classes) < _MAX_CACHED:
                self._classes[key] = child
        return child


class LogCollector(Collector):
    """The log's health at each scrape, from the gateway's `log_health`: whether it is
    ready, the converter's figures (one converter per server, so they are not summed
    over workers), and the last error of each spool and of the converter.

    `mlgate_log_last_error_info` carries the error's text as a label (cut to 200
    characters), the time it happened as its value, one series per kind and stage.
    """

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        source = self._metrics.log_health
        if source is None:
            return
        health = source()
        yield GaugeMetricFamily(
            "mlgate_log_ready",
            "1 while every answer's record is being written to the log's spool; 0 once "
            "writing has failed for longer than MLGATE_LOG_GRACE (readiness answers 503).",
            value=1.0 if health["ready"] else 0.0,
        )
        errors = GaugeMetricFamily(
            "mlgate_log_last_error_info",
            "The last error of the log, by kind and stage (spool: this worker writing "
            "records; converter: making segments); the value is when it happened.",
            labels=["kind", "stage", "error"],
        )
        for kind, state in health["spool"].items():
            if state["last_error"]:
                at = state["last_error_at"] or 0.0
                errors.add_metric([kind, "spool", state["last_error"][:200]], at)
        converter = health.get("converter") or {}
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "failures": CounterMetricFamily(
                "mlgate_log_conversion_failures",
                "Passes of the log's converter that could not store a segment (retried).",
                labels=["kind"],
            ),
            "quarantined_records": CounterMetricFamily(
                "mlgate_log_quarantined_records",
                "Records the converter set aside in the dead-letter folder, with the reason.",
                labels=["kind"],
            ),
            "rows": CounterMetricFamily(
                "mlgate_log_converted_rows",
                "Rows the converter wrote to Parquet segments since it started.",
                labels=["kind"],
            ),
            "pending_bytes": GaugeMetricFamily(
                "mlgate_log_pending_bytes",
                "Bytes of spool files not yet made segments.",
                labels=["kind"],
            ),
        }
        for kind, figures in converter.items():
            if not isinstance(figures, dict):
                continue
            for key, family in families.items():
                family.add_metric([kind], float(figures.get(key) or 0))
            if figures.get("last_error"):
                errors.add_metric(
                    [kind, "converter", str(figures["last_error"])[:200]],
                    float(figures.get("last_error_at") or 0.0),
                )
        yield from families.values()
        yield errors


class StateCollector(Collector):
    """Whether this process serves the state store's current split, at each scrape, from
    the gateway's `state_health`: 0 while the store is out of reach and the split served
    is the last one read. Per process (not summed over workers): each polls on its own."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        source = self._metrics.state_health
        if source is None:
            return
        health = source()
        yield GaugeMetricFamily(
            "mlgate_state_current",
            "1 while the split served is the state store's current one; 0 once no poll of "
            "the store has succeeded for three poll intervals (the last split read is "
            "served meanwhile).",
            value=1.0 if health["current"] else 0.0,
        )
        yield GaugeMetricFamily(
            "mlgate_state_last_poll_age_seconds",
            "Seconds since the state store last answered this gateway's poll.",
            value=float(health["last_poll_s_ago"]),
        )
