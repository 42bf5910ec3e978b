"""Answers counted in bulk show in /metrics exactly as one observation at a time would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from mlgate.serving.metrics import _BUCKETS, GatewayMetrics


def _samples(text: bytes, prefixes: tuple[str, ...]) -> dict[str, float]:
    found = {}
    for line in text.decode().splitlines():
        if line.startswith(prefixes) and not line.startswith("#") and "_created" not in line:
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_bulk_counts_equal_one_observation_at_a_time() -> None:
    metrics = GatewayMetrics()
    plain = CollectorRegistry()
    requests = Counter("mlgate_requests", "", ["model", "version", "role", "route"], registry=plain)
    latency = Histogram(
        "mlgate_request_latency_seconds",
        "",
        ["model", "version", "route"],
        buckets=_BUCKETS,
        registry=plain,
    )
    predicted = Counter("mlgate_predicted_class", "", ["model", "version", "label"], registry=plain)
    rng = random.Random(3)
    # Values on bucket bounds too: a bound belongs to its own bucket (value <= bound).
    values = [rng.choice([*_BUCKETS, 0.0, 7.0]) for _ in range(300)]
    values += [rng.random() * 0.02 for _ in range(700)]
    for i, seconds in enumerate(values):
        version, role = ("2", "challenger") if i % 10 == 0 else ("1", "champion")
        labels = [i % 3, (i + 1) % 3] if i % 7 == 0 else [i % 3]
        metrics.answered("m", version, role, "predict", seconds, labels)
        requests.labels("m", version, role, "predict").inc()
        latency.labels("m", version, "predict").observe(seconds)
        for label in labels:
            predicted.labels("m", version, str(label)).inc()
        if i % 250 == 0:
            metrics.flush()  # flushes in between add up too
    wanted = ("mlgate_requests_total", "mlgate_request_latency_seconds", "mlgate_predicted_class")
    expected = _samples(generate_latest(plain), wanted)
    got = _samples(metrics.render(), wanted)
    assert len(expected) >= 40  # two versions: 14 buckets, count, sum; classes; requests
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert abs(got[name] - value) < 1e-9, name
