"""A loaded version, ready to predict: ONNX Runtime when it has an export, else its own
library (`registry.predictor`, which MLflow's loader shares), with its name, version
and schema."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
        )

    @cached_property
    def integers(self) -> tuple[str, ...]:
        """The numeric features the schema types `int`, in model order."""
        columns = self.schema.columns if self.schema else {}
        return tuple(n for n in self.numeric_order if n in columns and columns[n].dtype == "int")
