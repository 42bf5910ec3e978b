"""deploy/kubernetes: the Kustomize base and overlays render with kubectl's kustomize,
every rendered object validates offline against the Kubernetes schemas (and the
ServiceMonitor against Prometheus Operator's), and the objects wire the gateway the way
docs/scale.md says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mlgate import __version__

ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUSTOMIZE / "overlays").iterdir() if p.is_dir())
TOOLS = ROOT / ".tools"
CRD_VALIDATOR = ROOT / "tests" / "tools" / "crd-validate.mjs"
#: The oldest Kubernetes the manifests are meant for, and the newest the schemas know.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
KINDS = {
    "ConfigMap",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ServiceMonitor",
    "NetworkPolicy",
}
SECRET_ENV = {"MLGATE_ADMIN_TOKEN", "MLGATE_FEEDBACK_TOKEN", "MLGATE_STATE_URL"}

Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def kubectl() -> str:
    pinned = TOOLS / "kubectl" / "bin" / "kubectl"
    found = str(pinned) if pinned.exists() else shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is installed by `make kubectl` (make test runs it)")
    return found


@pytest.fixture(scope="module")
def render(kubectl: str) -> Callable[[Path], Objects]:
    cache: dict[Path, Objects] = {}

    def rendered(folder: Path) -> Objects:
        if folder not in cache:
            done = subprocess.run(
                [kubectl, "kustomize", str(folder)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            cache[folder] = [d for d in yaml.safe_load_all(done.stdout) if d]
        return cache[folder]

    return rendered


def _crd_validate(objects: Objects) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (TOOLS / "node_modules" / "@kubernetes-models").exists():
        pytest.skip("Prometheus Operator's schemas are installed by `make kubectl`")
    return subprocess.run(
        [node, str(CRD_VALIDATOR)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"NODE_PATH": str(TOOLS / "node_modules")},
        cwd=TOOLS,
    )


def _by_kind(objects: Objects) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects if o["kind"] != "ConfigMap"}


def _container(objects: Objects) -> dict[str, Any]:
    container: dict[str, Any] = _by_kind(objects)["Deployment"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(
    render: Callable[[Path], Objects], overlay: str, version: str
) -> None:
    objects = render(KUSTOMIZE / "overlays" / overlay)
    assert {o["kind"] for o in objects} == KINDS
    for o in objects:
        if o["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        kubernetes_validate.validate(o, version, strict=True)
    monitors = [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com/")]
    done = _crd_validate(monitors)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schemas_do_reject_a_broken_object(render: Callable[[Path], Objects]) -> None:
    objects = render(KUSTOMIZE / "overlays" / OVERLAYS[0])
    deployment = json.loads(json.dumps(_by_kind(objects)["Deployment"]))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)
    monitor = json.loads(json.dumps(_by_kind(objects)["ServiceMonitor"]))
    monitor["spec"]["endpoints"][0]["interval"] = 15
    done = _crd_validate([monitor])
    assert done.returncode == 1
    assert "interval must be string" in done.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_reads_its_secrets_from_the_secret_and_is_probed_on_v2_health(
    render: Callable[[Path], Objects], overlay: str
) -> None:
    objects = render(KUSTOMIZE / "overlays" / overlay)
    container = _container(objects)
    env = {e["name"]: e for e in container["env"]}
    for name in SECRET_ENV:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "mlgate", name
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["args"][:3] == ["serve", "-c", "/project/mlgate.yaml"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    pod = _by_kind(objects)["Deployment"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > 5 + 30
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_each_overlay_says_where_the_registry_is(render: Callable[[Path], Objects]) -> None:
    def registry(overlay: str) -> tuple[Any, Any]:
        objects = render(KUSTOMIZE / "overlays" / overlay)
        settings = next(o for o in objects if o["metadata"]["name"].startswith("mlgate-settings"))
        env = {e["name"]: e for e in _container(objects)["env"]}
        return settings["data"].get("MLGATE_REGISTRY_URI"), env.get("MLGATE_REGISTRY_URI")

    assert registry("mlflow-server") == ("http://mlflow.mlflow.svc.cluster.local:5000", None)
    from_config, from_env = registry("postgresql")
    assert from_config is None
    assert from_env["valueFrom"]["secretKeyRef"] == {"name": "mlgate", "key": "registry-uri"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_selects_the_gateway_pods(
    render: Callable[[Path], Objects], overlay: str
) -> None:
    objects = render(KUSTOMIZE / "overlays" / overlay)
    kinds = _by_kind(objects)
    pod_labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return bool(selector) and selector.items() <= labels.items()

    assert selects(kinds["Deployment"]["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(kinds["Service"]["spec"]["selector"], pod_labels)
    assert selects(kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(kinds["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"], pod_labels)
    monitor = kinds["ServiceMonitor"]["spec"]
    assert selects(monitor["selector"]["matchLabels"], kinds["Service"]["metadata"]["labels"])
    ports = {p["name"] for p in kinds["Service"]["spec"]["ports"]}
    assert {e["port"] for e in monitor["endpoints"]} <= ports
    assert (
        kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == (kinds["Deployment"]["metadata"]["name"])
    )
    # The generated ConfigMaps' hashed names are the ones the pod mounts and reads.
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    used = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    used |= {e["configMapRef"]["name"] for e in _container(objects)["envFrom"]}
    assert used == names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_network_policy_lets_the_gateway_reach_its_state_store(
    render: Callable[[Path], Objects], overlay: str
) -> None:
    policy = _by_kind(render(KUSTOMIZE / "overlays" / overlay))["NetworkPolicy"]["spec"]
    ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 443, 5432} <= ports
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [8080]


def test_the_deployment_runs_the_released_image_of_this_version(
    render: Callable[[Path], Objects],
) -> None:
    image = _container(render(KUSTOMIZE / "base"))["image"]
    assert image == f"ghcr.io/mlgate/mlgate:{__version__}"


def test_the_project_config_in_the_config_map_is_valid() -> None:
    from mlgate.config.loader import load_config

    config = load_config(KUSTOMIZE / "base" / "mlgate.yaml")
    assert config.name == "credit-risk"
