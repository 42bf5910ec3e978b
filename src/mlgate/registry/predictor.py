"""A verified model ready to predict as the gateway serves it: ONNX Runtime when it has
an export, else the model's own library.

The gateway (`serving.runtime.ServedModel`) and MLflow's loader (`registry.pyfunc`)
both predict through `Predictor`, so `mlflow.pyfunc`, `mlflow models serve` and
`spark_udf` answer what the gateway answers, to the last bit of every probability.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Self

import numpy as np

from mlgate.errors import ArtifactError
from mlgate.evaluation.evaluate import predict_rows
from mlgate.registry.bundle import ModelCard, fitted

__all__ = [
    "LABEL",
    "PREDICTION",
    "PROBABILITIES",
    "Columns",
    "Prediction",
    "Predictor",
    "answer_name",
    "open_onnx",
]

Array = np.ndarray[Any, Any]

#: What the answers are called in every protocol and in MLflow's signature: a
#: classifier's `label` (with its class `probabilities`), a regressor's `prediction`.
LABEL, PREDICTION, PROBABILITIES = "label", "prediction", "probabilities"


def answer_name(task: str) -> str:
    """The name of a model's answer: a classifier's `label`, a regressor's `prediction`."""
    return LABEL if task == "classification" else PREDICTION


class Columns(dict[str, Array]):
    """Feature columns whose numeric ones are also one float64 [feature, row] array.

    The input checks make these (`batch.from_columns`): each numeric column is a row
    of `block`, in `numeric` order. ONNX Runtime's inputs are then converted in one
    go, and the prediction log stacks one block per request instead of each column.
    """

    __slots__ = ("block", "numeric")

    def __init__(
        self, columns: Iterable[tuple[str, Array]], block: Array, numeric: tuple[str, ...]
    ) -> None:
        super().__init__(columns)
        self.block = block
        self.numeric = numeric


@dataclass(frozen=True, slots=True)
class Prediction:
    """Outputs for a batch: labels (or values) and, for classifiers, probabilities."""

    labels: list[Any]
    probabilities: Array | None

    def records(self, task: str) -> list[dict[str, Any]]:
        """One object per row: {"label": ..., "probabilities": [...]} for a classifier,
        {"prediction": ...} for a regressor (MLflow's answer of a DataFrame)."""
        name = answer_name(task)
        if self.probabilities is None:
            return [{name: value} for value in self.labels]
        rows = self.probabilities.tolist()
        return [
            {name: value, PROBABILITIES: row} for value, row in zip(self.labels, rows, strict=True)
        ]


@dataclass
class Predictor:
    """A verified model and, when it has one, its ONNX export's session."""

    card: ModelCard
    #: The model itself, or a `bundle.DeferredModel` built on first use (see `fitted`).
    model: Any
    session: Any = None
    numeric: frozenset[str] = field(default_factory=frozenset)
    #: `session.run` without its per-call Python checks (see `_direct_run`).
    run: Any = None

    @classmethod
    def open(
        cls, model: Any, card: ModelCard, folder: Path, *, onnx: bool = True, **more: Any
    ) -> Self:
        """The model of the bundle in `folder`, with its ONNX export (sha256 checked)
        when there is one and `onnx` is on; `more` are a subclass's fields."""
        session = None
        if onnx and card.onnx is not None:
            session = open_onnx(folder / card.onnx.path, card.onnx.sha256)
        return cls(
            card=card,
            model=model,
            session=session,
            numeric=frozenset(n for n, k in card.kinds.items() if k == "numeric"),
            run=None if session is None else _direct_run(session),
            **more,
        )

    @property
    def fast(self) -> bool:
        """Whether predictions run on ONNX Runtime (microseconds, safe on the event loop)."""
        return self.session is not None

    @property
    def features(self) -> list[str]:
        """Input features in model order."""
        return self.card.features

    @cached_property
    def numeric_order(self) -> tuple[str, ...]:
        """The numeric features, in model order."""
        return tuple(name for name in self.card.features if name in self.numeric)

    @cached_property
    def feature_set(self) -> frozenset[str]:
        """The input features, for quick membership checks."""
        return frozenset(self.card.features)

    @property
    def classes(self) -> list[Any] | None:
        """Class labels in probability-column order, for classifiers."""
        return self.card.classes

    @property
    def gives_probabilities(self) -> bool:
        """Whether a classifier's answers carry class probabilities."""
        if self.card.task != "classification":
            return False
        if self.session is not None:
            return len(self.session.get_outputs()) > 1
        return hasattr(self.fitted(), "predict_proba")

    def fitted(self) -> Any:
        """The model in its own library (scikit-learn's pipeline, say), built now if it
        was deferred: ONNX Runtime answers predictions without it."""
        return fitted(self.model)

    def predict(self, columns: dict[str, Array]) -> Prediction:
        """Predict a batch given one array per feature (numeric float64, categorical str)."""
        if self.session is not None:
            if isinstance(columns, Columns) and columns.numeric == self.numeric_order:
                numeric: tuple[str, ...] | list[str] = columns.numeric
                block = columns.block.astype(np.float32)
            else:
                numeric = [name for name in columns if name in self.numeric]
                block = np.array([columns[name] for name in numeric], dtype=np.float32)
            feed: dict[str, Array] = {}
            if numeric:  # one conversion for every numeric column, then a [rows, 1] view
                feed.update(zip(numeric, block.reshape(len(numeric), -1, 1), strict=True))
            if len(feed) < len(columns):
                for name, values in columns.items():
                    if name not in self.numeric:
                        feed[name] = values.reshape(-1, 1)
            outputs = self.run(feed) if self.run is not None else self.session.run(None, feed)
            labels = outputs[0].reshape(-1)
            probabilities = outputs[1] if len(outputs) > 1 else None
            if self.card.task == "regression":
                return Prediction(labels.astype(np.float64).tolist(), None)
            return Prediction(
                labels.tolist(),
                None if probabilities is None else np.asarray(probabilities, dtype=np.float64),
            )
        import pandas as pd

        model = self.fitted()
        frame = pd.DataFrame({name: columns[name] for name in self.features})
        labels = predict_rows(model, frame)
        probabilities = None
        if self.card.task == "classification" and hasattr(model, "predict_proba"):
            try:
                probabilities = np.asarray(model.predict_proba(frame), dtype=np.float64)
            except (AttributeError, NotImplementedError):
                probabilities = None
        if self.card.task == "regression":
            return Prediction(np.asarray(labels, dtype=np.float64).tolist(), None)
        return Prediction(np.asarray(labels).tolist(), probabilities)


def _direct_run(session: Any) -> Any:
    """`session.run(None, feed)` for feeds of every input as numpy arrays, as `predict` makes.

    `InferenceSession.run` checks in Python, on every call, that no input is missing
    and that no input is an OrtValue of another session: about 6 µs for a model with
    one input per feature, as much as the rest of a one-row prediction's Python work.
    `predict` feeds every input, always as numpy arrays, so those checks cannot fail;
    ONNX Runtime's C++ side still checks every input's name, type and shape. Falls
    back to the public `run` when the session does not have the usual inner object.
    """
    inner = getattr(session, "_sess", None)
    outputs = [o.name for o in session.get_outputs()]
    if inner is None or not callable(getattr(inner, "run", None)):
        return None
    run = inner.run

    def direct(feed: dict[str, Any]) -> Any:
        return run(outputs, feed, None)

    return direct


def open_onnx(path: Path, sha256: str) -> Any:
    """An ONNX Runtime session of the export at `path`, if its sha256 is `sha256`."""
    import onnxruntime as ort

    if not path.is_file():
        raise ArtifactError("the ONNX file named in model.json is missing", path=path)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError(
            "the ONNX file's sha256 does not match the one recorded when it was written",
            path=path,
            fix="Register the model again from a trusted run.",
        )
    options = ort.SessionOptions()
    # One thread per session: ONNX Runtime's default pool spins cores even when idle.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
