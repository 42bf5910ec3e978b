"""What the gateway tests send and expect: the served model's name, one row in every
shape the protocols take, and the JSON error body a refusal answers with."""

from __future__ import annotations

from typing import Any

MODEL = "credit-risk"
#: The registered name of the regressor (on scikit-learn's diabetes data).
REGRESSOR = "progression"

ROW = {
    "age": 41,
    "income": 52000.0,
    "debt_ratio": 0.31,
    "credit_score": 690,
    "employment": "employed",
    "region": "north",
}

LIST = list(ROW.values())


def error(message: str, code: str, **where: Any) -> dict[str, Any]:
    """A refusal's body: the message, its code, and where (row, feature) when known."""
    return {"error": message, "detail": {"code": code, **where}}


def labels_of(answer: dict[str, Any]) -> list[Any]:
    """The labels of a classifier's /invocations answer: one {"label", "probabilities"}
    object per row, as `mlflow models serve` answers for the version's MLmodel."""
    return [row["label"] for row in answer["predictions"]]


def mlflow_error(message: str, code: str, **where: Any) -> dict[str, Any]:
    """A refusal on /invocations: MLflow's `error_code` and `message`, and mlgate's detail."""
    return {"error_code": "BAD_REQUEST", "message": message, "detail": {"code": code, **where}}
