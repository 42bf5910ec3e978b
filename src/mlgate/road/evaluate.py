"""Scoring a saved model on labelled data: `mlgate evaluate`."""

from __future__ import annotations

from pathlib import Path

from mlgate.data.io import read_pandas
from mlgate.errors import DataError
from mlgate.evaluation.evaluate import EvaluationResult, evaluate_model
from mlgate.registry.bundle import ModelCard, load_bundle
from mlgate.road.checks import check_rows
from mlgate.training.chatter import quiet_libraries
from mlgate.training.preprocessing import prepare_features
from mlgate.training.train import check_target

__all__ = ["evaluate_saved"]


def evaluate_saved(model: str | Path, data: str | Path) -> tuple[ModelCard, EvaluationResult]:
    """A saved model's card and its scores on labelled `data`, after checking that data fits."""
    import pandas as pd

    source = str(data)
    fitted, card = load_bundle(model)
    frame = read_pandas(data)
    check_rows(frame, source, fix="Pass a file with labelled rows.")
    # Only what scoring needs: a test set may hold a single class, but never text for rmse.
    check_target(frame, card.target, None, source=source)
    target = frame[card.target]
    if card.task == "regression" and not pd.api.types.is_numeric_dtype(target):
        raise DataError(
            f"target column {card.target!r} holds text (e.g. {target.iloc[0]!r}), but the model "
            "is a regressor that predicts numbers.",
            source=source,
            fix="Evaluate on data whose target column holds numbers.",
        )
    missing = [f for f in card.features if f not in frame.columns]
    if missing:
        raise DataError(
            f"missing feature column(s) the model was trained on: {', '.join(missing)}.",
            source=source,
            fix=f"The model needs: {', '.join(card.features)}.",
        )
    features = prepare_features(frame, card.kinds, source=source)
    try:
        with quiet_libraries():
            result = evaluate_model(fitted, features, target, card.task)
    except DataError as e:
        raise DataError(e.problem, source=source, fix=e.fix) from e
    return card, result
