"""A trained model on disk: the skops file plus what is needed to use it again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from mlgate.errors import ArtifactError
from mlgate.registry.artifacts import ArtifactInfo, load_skops, save_skops

__all__ = ["TEST_SET", "ModelCard", "load_bundle", "save_bundle"]

_RETRAIN = "Retrain the model; mlgate writes the card beside the model file."

MODEL_FILE = "model.skops"
CARD_FILE = "model.json"
#: The held-out rows each run saves beside its model; comparisons use them by default.
TEST_SET = "test.parquet"


class ModelCard(BaseModel):
    """What a saved model expects and what it predicts."""

    name: str
    task: str
    target: str
    features: list[str]
    kinds: dict[str, str] = Field(description="Each feature's kind: numeric or categorical.")
    classes: list[Any] | None = None
    artifact: ArtifactInfo
    onnx: ArtifactInfo | None = Field(
        None, description="The ONNX export, present only when it predicts what the model does."
    )
    onnx_note: str = Field("", description="Why there is, or is not, an ONNX export.")


def save_bundle(model: Any, folder: Path, card: dict[str, Any]) -> ModelCard:
    """Write the model and its card into `folder`; the card records the file's sha256."""
    artifact = save_skops(model, folder / MODEL_FILE)
    artifact.path = MODEL_FILE
    full = ModelCard.model_validate(card | {"artifact": artifact})
    (folder / CARD_FILE).write_text(full.model_dump_json(indent=2), encoding="utf-8")
    return full


def load_bundle(location: str | Path) -> tuple[Any, ModelCard]:
    """The model and card in a run folder (or beside a model.skops file), hash-checked."""
    path = Path(location)
    folder = path.parent if path.is_file() else path
    card_path = folder / CARD_FILE
    if not folder.exists():
        raise ArtifactError("no such model folder or file", path=path)
    if not card_path.is_file():
        raise ArtifactError(
            f"no {CARD_FILE} here, so this is not a model mlgate trained.",
            path=folder,
            fix="Pass the output folder of `mlgate train` or `mlgate run`.",
        )
    try:
        card = ModelCard.model_validate(json.loads(card_path.read_text(encoding="utf-8")))
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc'])) or '(top)'}: {item['msg']}" for item in e.errors()
        )
        raise ArtifactError(
            f"the model card is damaged ({problems}).", path=card_path, fix=_RETRAIN
        ) from e
    except (ValueError, OSError) as e:  # not JSON, not text, not readable
        raise ArtifactError(
            f"the model card is damaged ({e}).", path=card_path, fix=_RETRAIN
        ) from e
    model = load_skops(folder / card.artifact.path, sha256=card.artifact.sha256)
    return model, card
