"""Prometheus metrics of the gateway: requests, errors, latency, classes, rollout weight.

Each app gets its own registry, so several apps in one process (tests) do not
collide. With PROMETHEUS_MULTIPROC_DIR set (several workers), `/metrics`
aggregates every worker's files instead.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from mlgate.state.rollout import STRATEGIES

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
        self.fallbacks = Counter(
            "mlgate_challenger_fallbacks",
            "Requests the champion answered because the challenger failed.",
            ["model", "version"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition of every metric (all workers' in multiprocess mode)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
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
        children = self._answered.get(key)
        if children is None:
            children = (
                self.requests.labels(model, version, role, route),
                self.latency.labels(model, version, route),
            )
            self._answered[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if classes is not None:
            self.count_labels(model, version, classes)

    def _predicted(self, model: str, version: str, label: str) -> Any:
        key = (model, version, label)
        child = self._classes.get(key)
        if child is None:
            child = self.predicted.labels(model, version, label)
            if len(self._classes) < _MAX_CACHED:
                self._classes[key] = child
        return child

    def count_labels(self, model: str, version: str, labels: list[Any]) -> None:
        """Count predicted classes without one call per row for big batches."""
        if len(labels) == 1:
            self._predicted(model, version, str(labels[0])).inc()
            return
        counts: dict[str, int] = {}
        for label in labels:
            key = str(label)
            counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            self._predicted(model, version, key).inc(count)
