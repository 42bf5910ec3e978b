"""The Kubernetes manifests parse and wire the gateway the way docs/scale.md says."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFESTS = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes" / "gateway.yaml"


def test_the_gateway_manifests_parse_and_read_secrets_from_a_secret() -> None:
    documents = list(yaml.safe_load_all(MANIFESTS.read_text(encoding="utf-8")))
    kinds = [d["kind"] for d in documents]
    assert kinds == ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"]
    deployment = documents[1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    for secret in (
        "MLGATE_REGISTRY_URI",
        "MLGATE_STATE_URL",
        "MLGATE_ADMIN_TOKEN",
        "MLGATE_FEEDBACK_TOKEN",
    ):
        assert "secretKeyRef" in env[secret]["valueFrom"], secret
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert "mlgate serve" in " ".join(container["command"])
    assert yaml.safe_load(documents[0]["data"]["mlgate.yaml"])["name"] == "credit-risk"
