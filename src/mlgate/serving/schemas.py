"""OpenAPI request-body schemas for routes that parse their bodies by hand (for speed)."""

from __future__ import annotations

from typing import Any

from mlgate.config.rollout import PLANS, STRATEGIES
from mlgate.serving.tensors import DATATYPES

__all__ = [
    "ACT",
    "FEEDBACK",
    "INVOCATIONS",
    "PREDICT",
    "ROLLOUT",
    "START",
    "V2_INFER",
    "body",
]

_VALUE: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]}
_ROW: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": _VALUE},
        {"type": "object", "additionalProperties": _VALUE},
    ]
}

V2_INFER: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"type": "string", "enum": list(DATATYPES)},
                    "data": {"type": "array"},
                    "parameters": {"type": "object"},
                },
            },
        },
        "outputs": {"type": "array", "items": {"type": "object"}},
    },
}

INVOCATIONS: dict[str, Any] = {
    "type": "object",
    "description": "MLflow's scoring protocol: exactly one of these keys.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": _VALUE}},
                "index": {"type": "array"},
            },
        },
        "dataframe_records": {"type": "array", "items": {"type": "object"}},
        "instances": {"anyOf": [{"type": "array", "items": _ROW}, {"type": "object"}]},
        "inputs": {"anyOf": [{"type": "array", "items": _ROW}, {"type": "object"}]},
        "params": {"type": "object"},
    },
}

PREDICT: dict[str, Any] = {
    "type": "object",
    "required": ["instances"],
    "properties": {"instances": {"type": "array", "items": _ROW}},
}

FEEDBACK: dict[str, Any] = {
    "type": "object",
    "required": ["feedback"],
    "properties": {
        "feedback": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["request_id", "label"],
                "properties": {
                    "request_id": {"type": "string"},
                    "row": {"type": "integer", "minimum": 0},
                    "label": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                },
            },
        }
    },
}

ROLLOUT: dict[str, Any] = {
    "type": "object",
    "required": ["strategy"],
    "properties": {
        "strategy": {"type": "string", "enum": list(STRATEGIES)},
        "weight": {"type": "number", "minimum": 0, "maximum": 100},
        "note": {"type": "string"},
    },
}

START: dict[str, Any] = {
    "type": "object",
    "properties": {
        "strategy": {"type": "string", "enum": list(PLANS)},
        "steps": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 100}},
    },
}

#: Flagger's webhook payload (its CanaryWebhookPayload); /judge reads its metadata's
#: baseline, canary, window and token.
FLAGGER: dict[str, Any] = {
    "type": "object",
    "required": ["name", "namespace", "phase"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "phase": {"type": "string"},
        "checksum": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def body(schema: dict[str, Any], *, csv: bool = False, required: bool = True) -> dict[str, Any]:
    """The `openapi_extra` that documents a JSON request body (or, with `csv`, CSV too)."""
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {
            "schema": {
                "type": "string",
                "description": "A header of feature names, then one line per row "
                "(pandas' DataFrame.to_csv(index=False)); an empty field is missing.",
            }
        }
    return {"requestBody": {"required": required, "content": content}}


#: An act's optional body: why, kept in the history and the events.
ACT: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 500}},
    "additionalProperties": False,
}
