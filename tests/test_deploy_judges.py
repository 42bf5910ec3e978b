"""The Argo Rollouts and Flagger examples in deploy/ hold what their controllers read.

The schemas below are the parts of the controllers' published CRD schemas these
manifests use, copied by hand (the full CRDs are too large to vendor here):
Flagger's `artifacts/flagger/crd.yaml` (Canary v1beta1: spec.targetRef and
spec.analysis required; a webhook's name and url, its type among Flagger's
hooks, its metadata text), and Argo Rollouts' `manifests/crds/` with its Web
metric provider documentation (docs/analysis/web.md: url, headers as key/value,
jsonPath, timeoutSeconds). Each manifest's wiring to mlgate is then checked:
the arm read from the label its controller sets, the judge's URL and verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"

_TEXT = {"type": "string"}
_ENV = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": _TEXT, "value": _TEXT, "valueFrom": {"type": "object"}},
        "additionalProperties": False,
    },
}
_POD = {
    "type": "object",
    "required": ["metadata", "spec"],
    "properties": {
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        "spec": {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "image"],
                        "properties": {"env": _ENV},
                    },
                }
            },
        },
    },
}
_SECRET_ARG = {
    "type": "object",
    "properties": {
        "secretKeyRef": {
            "type": "object",
            "required": ["name", "key"],
            "properties": {"name": _TEXT, "key": _TEXT},
        },
        "podTemplateHashValue": {"enum": ["Stable", "Latest"]},
        "fieldRef": {"type": "object", "required": ["fieldPath"]},
    },
    "additionalProperties": False,
}
_ARGS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": _TEXT, "value": _TEXT, "valueFrom": _SECRET_ARG},
        "additionalProperties": False,
    },
}
ANALYSIS_TEMPLATE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "AnalysisTemplate"},
        "spec": {
            "type": "object",
            "required": ["metrics"],
            "properties": {
                "args": _ARGS,
                "metrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "provider"],
                        "properties": {
                            "name": _TEXT,
                            "interval": _TEXT,
                            "initialDelay": _TEXT,
                            "successCondition": _TEXT,
                            "failureCondition": _TEXT,
                            "failureLimit": {"type": "integer"},
                            "inconclusiveLimit": {"type": "integer"},
                            "consecutiveErrorLimit": {"type": "integer"},
                            "count": {"type": "integer"},
                            "provider": {
                                "type": "object",
                                "properties": {
                                    "web": {
                                        "type": "object",
                                        "required": ["url"],
                                        "properties": {
                                            "url": _TEXT,
                                            "method": {"enum": ["GET", "POST", "PUT"]},
                                            "timeoutSeconds": {"type": "integer"},
                                            "jsonPath": _TEXT,
                                            "headers": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": ["key", "value"],
                                                    "properties": {"key": _TEXT, "value": _TEXT},
                                                    "additionalProperties": False,
                                                },
                                            },
                                        },
                                        "additionalProperties": False,
                                    }
                                },
                            },
                        },
                        "additionalProperties": False,
                    },
                },
            },
        },
    },
}
ROLLOUT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "argoproj.io/v1alpha1"},
        "kind": {"const": "Rollout"},
        "spec": {
            "type": "object",
            "required": ["selector", "template", "strategy"],
            "properties": {
                "replicas": {"type": "integer"},
                "template": _POD,
                "strategy": {
                    "type": "object",
                    "properties": {
                        "canary": {
                            "type": "object",
                            "properties": {
                                "canaryService": _TEXT,
                                "stableService": _TEXT,
                                "steps": {"type": "array"},
                                "analysis": {
                                    "type": "object",
                                    "required": ["templates"],
                                    "properties": {
                                        "templates": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": ["templateName"],
                                            },
                                        },
                                        "startingStep": {"type": "integer"},
                                        "args": _ARGS,
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        }
                    },
                },
            },
        },
    },
}
CANARY = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "flagger.app/v1beta1"},
        "kind": {"const": "Canary"},
        "spec": {
            "type": "object",
            "required": ["targetRef", "analysis"],
            "properties": {
                "targetRef": {
                    "type": "object",
                    "required": ["apiVersion", "kind", "name"],
                    "properties": {"kind": {"enum": ["DaemonSet", "Deployment", "Service"]}},
                },
                "progressDeadlineSeconds": {"type": "number"},
                "service": {
                    "type": "object",
                    "required": ["port"],
                    "properties": {"port": {"type": "number"}},
                },
                "analysis": {
                    "type": "object",
                    "properties": {
                        "interval": _TEXT,
                        "threshold": {"type": "number"},
                        "maxWeight": {"type": "number"},
                        "stepWeight": {"type": "number"},
                        "webhooks": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "url"],
                                "properties": {
                                    "name": _TEXT,
                                    "url": _TEXT,
                                    "timeout": _TEXT,
                                    "type": {
                                        "enum": [
                                            "",
                                            "confirm-rollout",
                                            "pre-rollout",
                                            "rollout",
                                            "confirm-traffic-increase",
                                            "confirm-promotion",
                                            "post-rollout",
                                            "event",
                                            "rollback",
                                        ]
                                    },
                                    "metadata": {
                                        "type": "object",
                                        "additionalProperties": _TEXT,
                                    },
                                },
                                "additionalProperties": False,
                            },
                        },
                    },
                },
            },
        },
    },
}


def _documents(path: Path) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(path.read_text(encoding="utf-8"))}


def _env(pod: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}


def test_the_argo_rollouts_example_asks_the_judge_for_its_two_hashes() -> None:
    found = _documents(DEPLOY / "argo-rollouts" / "judge.yaml")
    jsonschema.validate(found["AnalysisTemplate"], ANALYSIS_TEMPLATE)
    jsonschema.validate(found["Rollout"], ROLLOUT)
    metric = found["AnalysisTemplate"]["spec"]["metrics"][0]
    assert metric["provider"]["web"]["jsonPath"] == "{$.verdict}"
    assert (metric["successCondition"], metric["failureCondition"]) == (
        'result == "pass"',
        'result == "fail"',
    )
    url = urlsplit(metric["provider"]["web"]["url"])
    assert url.path == "/judge/credit-risk"
    assert parse_qs(url.query) == {
        "baseline": ["{{args.stable-hash}}"],
        "canary": ["{{args.canary-hash}}"],
        "window": ["10m"],
    }
    rollout = found["Rollout"]["spec"]
    passed = {a["name"]: a["valueFrom"] for a in rollout["strategy"]["canary"]["analysis"]["args"]}
    assert passed == {
        "stable-hash": {"podTemplateHashValue": "Stable"},
        "canary-hash": {"podTemplateHashValue": "Latest"},
    }
    env = _env(rollout["template"])
    assert env["MLGATE_ARM"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.labels['rollouts-pod-template-hash']"}
    }
    assert "MLGATE_PINNED_VERSION" in env
    assert "MLGATE_READ_TOKEN" in env
    service = found["Service"]["spec"]["selector"]
    assert service == rollout["template"]["metadata"]["labels"]


def test_the_flagger_example_posts_to_the_judge_from_each_arm_named_by_its_app_label() -> None:
    found = _documents(DEPLOY / "flagger" / "canary.yaml")
    jsonschema.validate(found["Canary"], CANARY)
    canary = found["Canary"]["spec"]
    (hook,) = canary["analysis"]["webhooks"]
    assert hook["type"] == "rollout"
    assert urlsplit(hook["url"]).path == "/judge/credit-risk"
    assert set(hook["metadata"]) <= {"baseline", "canary", "window", "token"}
    deployment = found["Deployment"]
    assert canary["targetRef"]["name"] == deployment["metadata"]["name"]
    env = _env(deployment["spec"]["template"])
    assert env["MLGATE_ARM"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.labels['app']"}}
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "credit-risk"
