"""/judge answers what Argo Rollouts and Flagger send (real uvicorn gateways on 127.0.0.1).

Each replica is one arm, as the controllers run them: its own gateway with its own
MLGATE_ARM, all writing to one prediction log. The requests are the controllers'
own: Argo Rollouts' Web metric provider sends a GET to the template's url with its
headers and reads the answer with `jsonPath`; Flagger's webhook POSTs its payload
{name, namespace, phase, checksum, metadata} as JSON and passes on 200 only.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlgate.errors import RegistryError
from serving.requests import MODEL

STABLE, GOOD, BAD = "7d9f8c6b5", "5c6b7d8e9", "6f7a8b9c0"
REQUESTS = 24
READ_TOKEN = "figures-only"


def _judged(project: Any) -> None:
    """Thresholds small enough for a test's traffic."""
    doc = yaml.safe_load(project.config.read_text(encoding="utf-8"))
    rollout = doc.setdefault("rollout", {})
    # Latency is not what these contracts judge: four gateways share a small machine here.
    rollout["analysis"] = {
        **rollout.get("analysis", {}),
        "min_requests": 20,
        "min_labels": 20,
        "max_p99_latency_ratio": 1000,
        "latency_slack_ms": 1000,
    }
    # The drift figure tests the canary arm's window once it holds this many rows.
    doc["monitor"] = {**doc.get("monitor", {}), "min_samples": 20}
    project.config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


@pytest.fixture
def arms(kit: Any, project: Any, tmp_path: Path) -> Iterator[dict[str, tuple[Any, str]]]:
    """Three replicas: the stable arm, a good canary and a bad one (pinned to version 2, as
    a canary's pod template names its version); gateway and URL each."""
    _judged(project)
    with contextlib.ExitStack() as stack:
        found = {}
        for arm in (STABLE, GOOD, BAD):
            gateway = kit.make_gateway(
                project,
                arm=arm,
                pinned_version="2" if arm == BAD else None,
                spool_path=str(tmp_path / f"spool-{arm}"),
                read_token=READ_TOKEN,
            )
            found[arm] = (gateway, stack.enter_context(kit.in_thread(gateway)))
        yield found


def _traffic(url: str, project: Any, *, wrong: bool) -> None:
    """REQUESTS mirrored requests (the client's x-request-id names each copy) and a label
    for each: the truth, or (`wrong`) the class this arm did not answer."""
    truth = project.registered.test["default"].tolist()
    with httpx.Client(base_url=url, timeout=10) as client:
        labels = []
        for i in range(REQUESTS):
            row = {"instances": project.registered.lists(slice(i, i + 1))}
            answer = client.post("/predict", json=row, headers={"x-request-id": f"mirror-{i}"})
            assert answer.status_code == 200, answer.text
            said = answer.json()["predictions"][0]
            label = (1 - int(said)) if wrong else int(truth[i])
            labels.append({"request_id": answer.json()["request_id"], "label": label})
        taken = client.post("/feedback", json={"feedback": labels})
        assert taken.json()["accepted"] == REQUESTS


def _shifted(url: str, project: Any) -> None:
    """REQUESTS requests whose numeric features are a hundred times their test values."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(REQUESTS):
            row = [
                v * 100 + 1000 if isinstance(v, int | float) and not isinstance(v, bool) else v
                for v in project.registered.lists(slice(i, i + 1))[0]
            ]
            answer = client.post("/predict", json={"instances": [row]})
            assert answer.status_code == 200, answer.text


def _argo(url: str, baseline: str, canary: str, token: str = READ_TOKEN) -> httpx.Response:
    """The Web metric provider's request: GET the url with the template's headers."""
    return httpx.get(
        f"{url}/judge/{MODEL}",
        params={"baseline": baseline, "canary": canary, "window": "10m"},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=20,
    )


def _flagger(url: str, name: str, model: str = MODEL, **metadata: str) -> httpx.Response:
    """Flagger's rollout webhook: its payload, POSTed as JSON."""
    payload = {
        "name": name,
        "namespace": "ml",
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": {"token": READ_TOKEN, **metadata},
    }
    return httpx.post(f"{url}/judge/{model}", json=payload, timeout=20)


def test_too_few_requests_is_inconclusive_then_a_good_canary_passes_and_a_bad_one_fails(
    arms: dict[str, tuple[Any, str]], project: Any
) -> None:
    url = arms[STABLE][1]
    # Before any traffic: no verdict for Argo (its conditions see "inconclusive"), a
    # failed check for Flagger (which has no third answer).
    early = _argo(url, STABLE, GOOD)
    assert early.status_code == 200
    assert early.json()["verdict"] == "inconclusive"
    assert early.json()["passed"] is False
    assert (
        "answered 0 requests in the window, fewer than min_requests 20"
        in (early.json()["reasons"][0])
    )
    waiting = _flagger(url, "credit", baseline=STABLE, canary=GOOD)
    assert waiting.status_code == 412
    assert waiting.json()["verdict"] == "inconclusive"

    _traffic(arms[STABLE][1], project, wrong=False)
    _traffic(arms[GOOD][1], project, wrong=False)
    _traffic(arms[BAD][1], project, wrong=True)
    for gateway, _ in arms.values():
        gateway.flush_logs()

    good = _argo(url, STABLE, GOOD).json()
    assert good["verdict"] == "pass", good["reasons"]
    assert good["passed"] is True
    assert good["baseline"]["requests"] == good["canary"]["requests"] == REQUESTS
    assert good["canary"]["labelled"] == REQUESTS
    assert good["compared_rows"] == REQUESTS  # the mirrored copies met
    assert good["agreement"] == 1.0  # the same version answered both
    assert good["live_accuracy"]["difference"] == 0.0
    assert {c["name"] for c in good["checks"]} >= {"error_rate", "agreement"}
    assert {c["name"] for c in good["checks"]} >= {"live_accuracy_delta"}
    # The reasons speak of the arms as the controller does: canary and baseline.
    assert good["reasons"][0].startswith("canary error rate 0.00% (baseline 0.00%), limit ")
    assert not [r for r in good["reasons"] if "champion" in r or "challenger" in r]
    # Drift of the canary's inputs against its version's training data: reported only.
    features = len(project.registered.features)
    assert good["drift"] == {
        "version": "1",
        "rows": REQUESTS,
        "columns": features,
        "drifted": [],
        "share": 0.0,
        "dataset_drift": False,
    }

    bad = _argo(url, STABLE, BAD).json()
    assert bad["verdict"] == "fail"
    assert bad["canary"]["accuracy"] == 0.0
    assert (bad["baseline"]["version"], bad["canary"]["version"]) == ("1", "2")  # pinned
    failed = [c["name"] for c in bad["checks"] if not c["passed"]]
    assert failed == ["live_accuracy_delta"]
    assert bad["reasons"][0].startswith("live accuracy 0.000 vs baseline ")

    # Flagger asks any replica (here the canary's own) with the arms in its metadata.
    assert _flagger(arms[GOOD][1], "credit", baseline=STABLE, canary=GOOD).status_code == 200
    refused = _flagger(arms[BAD][1], "credit", baseline=STABLE, canary=BAD)
    assert refused.status_code == 412
    assert refused.json()["verdict"] == "fail"
    assert refused.json()["canary_name"] == "credit"
    assert refused.json()["phase"] == "Progressing"

    # Inputs far from the training data on every numeric feature: the figure says so, and
    # a note among the reasons; the verdict stays what the checks make it.
    _shifted(arms[GOOD][1], project)
    arms[GOOD][0].flush_logs()
    drifted = _argo(url, STABLE, GOOD).json()
    assert drifted["drift"]["rows"] == 2 * REQUESTS
    assert drifted["drift"]["dataset_drift"] is True, drifted["drift"]
    numeric = [
        name
        for name, value in zip(
            project.registered.features, project.registered.lists(slice(0, 1))[0], strict=True
        )
        if isinstance(value, int | float)
    ]
    assert set(numeric) <= set(drifted["drift"]["drifted"])
    assert drifted["reasons"][-1].startswith("note: the canary's inputs drifted from version 1's")


def test_flagger_names_the_arms_after_its_deployments(kit: Any, project: Any) -> None:
    """With no arms in its metadata, Flagger's primary is `<name>-primary`, its canary `<name>`."""
    _judged(project)
    gateway = kit.make_gateway(project, arm="credit-primary")
    with kit.in_thread(gateway) as url:
        _traffic(url, project, wrong=False)
        gateway.flush_logs()
        answer = httpx.post(
            f"{url}/judge/{MODEL}",
            json={"name": "credit", "namespace": "ml", "phase": "Progressing", "checksum": "1"},
            timeout=20,
        )
    assert answer.status_code == 412
    judged = answer.json()
    assert (
        judged["baseline"] | {"arm": "credit-primary", "requests": REQUESTS} == judged["baseline"]
    )
    assert judged["canary"]["arm"] == "credit"
    assert judged["verdict"] == "inconclusive"


def test_unknown_model_bad_arms_and_missing_token_get_clear_answers(
    arms: dict[str, tuple[Any, str]],
) -> None:
    url = arms[STABLE][1]
    unknown = _argo(url, STABLE, GOOD).request.url.copy_with(path="/judge/fraud")
    missing = httpx.get(unknown, headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == {"code": "unknown_model"}
    assert missing.json()["error"].startswith(
        f"no model 'fraud' on this gateway; it serves {MODEL!r}"
    )
    assert _flagger(url, "credit", model="fraud").status_code == 404
    same = _argo(url, STABLE, STABLE)
    assert same.status_code == 400
    assert same.json()["error"] == f"baseline and canary are the same arm {STABLE!r}; name two arms"
    no_arm = httpx.get(f"{url}/judge/{MODEL}", headers={"Authorization": f"Bearer {READ_TOKEN}"})
    assert no_arm.status_code == 400
    assert no_arm.json()["detail"] == {"code": "invalid_arm"}
    assert no_arm.json()["error"] == (
        "query parameter baseline is missing: name the arm (the MLGATE_ARM its pods set)"
    )
    no_canary = httpx.get(
        f"{url}/judge/{MODEL}",
        params={"baseline": STABLE},
        headers={"Authorization": f"Bearer {READ_TOKEN}"},
    )
    assert no_canary.status_code == 400
    assert no_canary.json()["error"] == (
        "query parameter canary is missing: name the arm (the MLGATE_ARM its pods set)"
    )
    window = httpx.get(
        f"{url}/judge/{MODEL}",
        params={"baseline": STABLE, "canary": GOOD, "window": "30d"},
        headers={"Authorization": f"Bearer {READ_TOKEN}"},
    )
    assert window.status_code == 400
    assert window.json()["error"] == "window '30d' is longer than the most, 7d"
    refused = _argo(url, STABLE, GOOD, token="wrong")
    assert refused.status_code == 401
    assert refused.json()["error"] == (
        "/judge needs Authorization: Bearer <MLGATE_READ_TOKEN> (Flagger: metadata.token)"
    )
    not_flagger = httpx.post(f"{url}/judge/{MODEL}", json={"name": "credit"}, timeout=10)
    assert not_flagger.status_code == 400
    assert not_flagger.json()["detail"] == {"code": "invalid_payload"}


def test_a_replica_pinned_to_a_version_the_registry_lacks_does_not_start(
    kit: Any, project: Any
) -> None:
    with pytest.raises(RegistryError, match=re.escape(f"model {MODEL!r} has no version '9'.")):
        kit.make_gateway(project, pinned_version="9")
