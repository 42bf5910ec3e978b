"""A trained model on disk: its flavour's files plus the card needed to use it again."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from mlgate.config.models import CardConfig
from mlgate.errors import ArtifactError
from mlgate.evaluation.importance import Importance

# Imported for its flavours (XGBoost, LightGBM), which it registers.
from mlgate.registry import boosting  # noqa: F401
from mlgate.registry.artifacts import ArtifactInfo, sha256_file
from mlgate.registry.code import copy_code, module_name, running_code
from mlgate.registry.flavours import MODEL_FILE, SKLEARN, flavour_for, get_flavour, read_verified
from mlgate.stats.estimate import Calibration
from mlgate.stats.loss import LossModel

__all__ = ["TEST_SET", "DeferredModel", "ModelCard", "fitted", "load_bundle", "save_bundle"]

_RETRAIN = "Retrain the model; mlgate writes the card beside the model file."

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
    artifact: ArtifactInfo = Field(description=f"{MODEL_FILE}, whose digest the registry keeps.")
    flavour: str = Field(SKLEARN, description="How the model was saved (registry.flavours).")
    files: list[ArtifactInfo] = Field(
        default_factory=list,
        description="Every file of the model with its sha256; empty on cards older than it.",
    )
    onnx: ArtifactInfo | None = Field(
        None, description="The ONNX export, present only when it predicts what the model does."
    )
    onnx_note: str = Field("", description="Why there is, or is not, an ONNX export.")
    code: list[str] = Field(
        default_factory=list,
        description="The team's own code stored with the version (model.code), whose "
        "classes are trusted for it alone.",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Classes of that code the model file holds.",
    )
    onnx_differing_rows: int = Field(
        0,
        description="Test rows on which the ONNX export answers otherwise than the model "
        "(float32 threshold flips of a tree model), within the share allowed.",
    )
    onnx_label_flips: int = Field(
        0, description="Of onnx_differing_rows, those whose label differs (classifiers)."
    )
    calibration: Calibration | None = Field(
        None,
        description="A classifier's map from top-class probability to the chance its answer "
        "is right, fitted on the held-out rows: accuracy is estimated from it before labels "
        "arrive (mlgate.stats.estimate).",
    )
    loss_model: LossModel | None = Field(
        None,
        description="A regressor's map from a row's features and prediction to its expected "
        "residual size, fitted on the held-out rows: MAE and RMSE are estimated from it "
        "before labels arrive (mlgate.stats.loss).",
    )
    importance: Importance | None = Field(
        None,
        description="Each feature's permutation importance on the held-out rows "
        "(mlgate.evaluation.importance); None on cards older than it.",
    )
    intended: CardConfig | None = Field(
        None, description="The config's `card:` section when the version was trained."
    )
    prediction_ms: dict[str, float] = Field(
        default_factory=dict,
        description="Median time to answer one row, by path: 'model' (the model's own "
        "library, as the gateway serves a version without ONNX; measured when no export "
        "is kept) and 'onnx' (ONNX Runtime, whenever the model converted).",
    )


def save_bundle(
    model: Any, folder: Path, card: dict[str, Any], code: list[Path] | None = None
) -> ModelCard:
    """Write the model (in its flavour's files), the team's `code` it needs and its card
    into `folder`; the card records the flavour and every file's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    flavour = flavour_for(model)
    names = flavour.save(model, folder)
    stored = copy_code(code or [], folder)
    files = [
        ArtifactInfo(
            path=name, sha256=sha256_file(folder / name), size_bytes=(folder / name).stat().st_size
        )
        for name in [*names, *stored]
    ]
    extra = {
        "artifact": files[0],
        "flavour": flavour.name,
        "files": files,
        "code": stored,
        "trusted_types": _code_types(folder / names[0], stored),
    }
    full = ModelCard.model_validate(card | extra)
    (folder / CARD_FILE).write_text(full.model_dump_json(indent=2), encoding="utf-8")
    return full


class DeferredModel:
    """A bundle's own model, built on first use: from its files read again and checked
    against the card's digests, so the bytes built are the bytes checked.

    A gateway serving a version's ONNX export needs its own model only to explain a
    prediction; until then it imports no scikit-learn (nor skops) and holds no copy.
    """

    def __init__(self, folder: Path, card: ModelCard) -> None:
        self.folder = folder
        self.card = card
        self._built: Any = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """Whether the model was built already."""
        return self._built is not None

    def get(self) -> Any:
        """The model, built once (ArtifactError when its files were altered since)."""
        with self._lock:
            if self._built is None:
                self._built = _build(self.folder, self.card)
            return self._built


def fitted(model: Any) -> Any:
    """The fitted model itself, built now when `model` is a `DeferredModel`."""
    return model.get() if isinstance(model, DeferredModel) else model


def load_bundle(location: str | Path, *, defer: bool = False) -> tuple[Any, ModelCard]:
    """The model and card in a run folder (or beside its model.skops), every file's
    sha256 checked before the model is built from the bytes that were checked.

    `defer`: a bundle with an ONNX export has its files checked now but its model
    built only when first asked for (a `DeferredModel`, see `fitted`).
    """
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
    if defer and card.onnx is not None:
        read_verified(folder, card.files or [card.artifact])
        return DeferredModel(folder, card), card
    return _build(folder, card), card


def _build(folder: Path, card: ModelCard) -> Any:
    """The model of the bundle in `folder`, built from the bytes checked against `card`."""
    files = read_verified(folder, card.files or [card.artifact])
    with running_code(files):
        return get_flavour(card.flavour).load(files)


def _code_types(model_file: Path, stored: list[str]) -> list[str]:
    """The classes of the stored code that the skops model file holds."""
    if not stored or model_file.suffix != ".skops":
        return []
    import skops.io as sio

    modules = {module_name(path) for path in stored}
    untrusted = sio.get_untrusted_types(file=model_file)
    return sorted(t for t in untrusted if t.rpartition(".")[0] in modules)
