"""A loaded version, ready to predict: ONNX Runtime when it has an export, else its own
library (`registry.predictor`, which MLflow's loader shares), with its name, version
and schema."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mlgate.data.schema import Schema, load_schema
from mlgate.registry.predictor import Columns, Prediction, Predictor
from mlgate.registry.refs import LoadedModel

__all__ = ["Columns", "Prediction", "ServedModel"]


@dataclass(kw_only=True)
class ServedModel(Predictor):
    """One registered version as the gateway serves it."""

    name: str
    version: str
    schema: Schema | None
    #: The version's folder (its stored test set is the kernel explainer's background).
    stored_at: Path | None = None
    _explainer: Any = field(default=None, init=False, repr=False)
    _explainer_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def load(cls, loaded: LoadedModel, *, onnx: bool = True) -> ServedModel:
        """Wrap a verified model; open its ONNX export (sha256 checked) when there is one."""
        card = loaded.card
        schema_path = loaded.folder / "schema.yaml"
        return cls.open(
            loaded.model,
            card,
            loaded.folder,
            onnx=onnx,
            name=card.name,
            version=loaded.version.version if loaded.version else loaded.folder.name,
            schema=load_schema(schema_path) if schema_path.exists() else None,
            stored_at=loaded.folder,
        )

    def explainer(self) -> Any:
        """The version's SHAP explainer (`training.explain`), built on first use; raises
        ConfigError naming the extra when SHAP is not installed."""
        with self._explainer_lock:
            if self._explainer is None:
                from mlgate.data.io import read_pandas
                from mlgate.registry.bundle import TEST_SET
                from mlgate.training.explain import explainer_for

                saved = self.stored_at / TEST_SET if self.stored_at is not None else None
                card = self.card
                self._explainer = explainer_for(
                    self.fitted(),
                    card.task,
                    card.kinds,
                    card.classes,
                    card.target,
                    read_pandas(saved) if saved is not None and saved.is_file() else None,
                )
            return self._explainer

    @cached_property
    def integers(self) -> tuple[str, ...]:
        """The numeric features the schema types `int`, in model order."""
        columns = self.schema.columns if self.schema else {}
        return tuple(n for n in self.numeric_order if n in columns and columns[n].dtype == "int")
