"""MLflow's view of a bundle: an MLmodel whose `python_function` flavour is mlgate's loader.

`write_mlmodel` adds to a bundle the files MLflow reads (MLmodel, the input example,
requirements.txt, python_env.yaml, conda.yaml) with a signature built from the model
card. MLflow then loads the version through `_load_pyfunc` here, which checks the
digests as `load_ref` does for a folder and loads the model files with their
flavour's verified loader, never with pickle. The MLmodel records the sha256 of
model.json too, so a card rewritten after the MLmodel was written is refused.

Predictions are those of the gateway, through the same `Predictor` (ONNX Runtime
when the version has an export): a DataFrame with a classifier's `label` and
`probabilities` (in the order of the MLmodel's `metadata.mlgate.classes`), or a
regressor's `prediction`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ArtifactError, DataError
from mlgate.registry._mlflow import quiet_mlflow
from mlgate.registry._record import MLMODEL
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.bundle import CARD_FILE, TEST_SET, ModelCard, load_bundle
from mlgate.registry.predictor import LABEL, PREDICTION, PROBABILITIES, Predictor
from mlgate.registry.requirements import model_requirements
from mlgate.training.preprocessing import prepare_features

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models.signature import ModelSignature

__all__ = ["MLMODEL", "VerifiedPyfunc", "model_signature", "write_mlmodel"]

log = logging.getLogger(__name__)

#: This module: MLflow imports it by name and calls its `_load_pyfunc`.
LOADER = __name__
#: Rows of the saved test set kept as the input example.
EXAMPLE_ROWS = 5
#: Where the MLmodel keeps the digests it was written for, the task and the classes.
_METADATA = "mlgate"
#: JSON types of class labels → MLflow column types.
_LABEL_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}

#: What MLflow writes beside MLmodel, and what mlgate writes into a bundle.
_MLFLOW_FILES = frozenset(
    {
        MLMODEL,
        "input_example.json",
        "serving_input_example.json",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
    }
)

_AGAIN = "Register the model again from a trusted run."


class VerifiedPyfunc:
    """A verified, loaded bundle as MLflow's `python_function` model."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.card = predictor.card

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """What the gateway answers for these rows, one row each: a classifier's `label`
        and `probabilities`, a regressor's `prediction`."""
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [name for name in self.card.features if name not in frame.columns]
        if missing:
            raise DataError(
                f"the input lacks feature(s) {', '.join(missing)}.",
                fix=f"Send every feature the model takes: {', '.join(self.card.features)}.",
            )
        features = prepare_features(frame, self.card.kinds)
        columns = {name: features[name].to_numpy() for name in self.card.features}
        answer = self.predictor.predict(columns)
        return pd.DataFrame.from_records(answer.records(self.card.task), index=frame.index)


def model_signature(card: ModelCard, *, probabilities: bool) -> ModelSignature:
    """The signature the card implies: numeric features as doubles, categorical ones as
    strings; out, a classifier's `label` (typed as its classes are) and, with
    `probabilities`, an array of doubles in class order; a regressor's `prediction`."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, Schema, TensorSpec

    inputs = Schema(
        [
            ColSpec("double" if card.kinds.get(name) == "numeric" else "string", name)
            for name in card.features
        ]
    )
    if card.task == "regression":
        return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", PREDICTION)]))
    kinds = {_LABEL_TYPES.get(type(c), "string") for c in card.classes or []}
    outputs: list[ColSpec | TensorSpec] = [
        ColSpec(kinds.pop() if len(kinds) == 1 else "string", LABEL)
    ]
    if probabilities:
        outputs.append(ColSpec(Array(DataType.double), PROBABILITIES))
    return ModelSignature(inputs=inputs, outputs=Schema(outputs))


def write_mlmodel(bundle: Path, packages: dict[str, str]) -> list[str]:
    """Write the MLmodel and the files MLflow reads beside it into `bundle`; their names.

    `packages` are the lineage's package versions, pinned in the requirements with
    mlgate itself and the libraries the model's objects come from. The model is loaded
    (its files verified) to learn what it answers; one that does not load gets an MLmodel
    from its card alone, which MLflow's loader refuses as the gateway does. MLflow's
    files from an earlier run into the same folder are replaced, the bundle's own never.
    """
    card = _card(bundle)
    model: Any = None
    try:
        model, _ = load_bundle(bundle)
        predictor = Predictor.open(model, card, bundle)
        probabilities, onnx = predictor.gives_probabilities, predictor.fast
    except ArtifactError as e:
        # A model that does not load is registered as failed, saying why (the road's
        # load-back check): its MLmodel comes from the card, and MLflow's loader refuses
        # it as the gateway does.
        log.debug("writing the MLmodel of %s from its card alone: %s", bundle, e)
        probabilities, onnx = card.task == "classification", card.onnx is not None
    mlflow_pyfunc = _import_pyfunc()
    metadata = {
        "card_sha256": sha256_file(bundle / CARD_FILE),
        "sha256": card.artifact.sha256,
        "task": card.task,
        "classes": card.classes,
    }
    with tempfile.TemporaryDirectory(prefix="mlgate-mlmodel-") as scratch:
        made = Path(scratch) / "model"
        try:
            with warnings.catch_warnings():
                # A bundle without its test set (from before mlgate saved one) has no example.
                warnings.filterwarnings("ignore", ".*An input example was not provided")
                mlflow_pyfunc.save_model(
                    str(made),
                    loader_module=LOADER,
                    signature=model_signature(card, probabilities=probabilities),
                    input_example=_example(bundle, card),
                    pip_requirements=model_requirements(packages, model, onnx=onnx),
                    metadata={_METADATA: metadata},
                )
        except Exception as e:  # MLflow raises its own and whatever its helpers do
            raise ArtifactError(
                f"MLflow could not write the {MLMODEL} file ({e}); nothing was registered "
                "or changed.",
                path=bundle,
                fix="Check the MLflow installation (`pip install mlflow`), then run again.",
            ) from e
        written = sorted(p.name for p in made.iterdir() if p.is_file())
        mine = [n for n in written if n not in _MLFLOW_FILES and (bundle / n).exists()]
        if mine:  # never: MLflow names its files otherwise, and a bundle's files stay as written
            raise ArtifactError(f"MLflow would replace {', '.join(mine)}.", path=bundle)
        for stale in _MLFLOW_FILES - set(written):  # left by an earlier run into this folder
            (bundle / stale).unlink(missing_ok=True)
        for name in written:
            shutil.copyfile(made / name, bundle / name)
    return written


def _import_pyfunc() -> Any:
    """`mlflow.pyfunc`, without the warning its first import gives about MLflow's own hints,
    and with MLflow's INFO lines off (quieted after the import, which sets its loggers up;
    else "Validating input example" reaches the user's terminal)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*Any type hint", UserWarning)
        import mlflow.pyfunc
    quiet_mlflow()
    return mlflow.pyfunc


def _load_pyfunc(path: str) -> VerifiedPyfunc:
    """MLflow's entry point: the bundle at `path`, loaded only if its digests match."""
    folder = Path(path)
    recorded = _recorded_digests(folder)
    card_path = folder / CARD_FILE
    if not card_path.is_file() or sha256_file(card_path) != recorded.get("card_sha256"):
        raise ArtifactError(
            f"{CARD_FILE} differs from the one this {MLMODEL} was written for (or is missing); "
            "the files were altered.",
            path=folder,
            fix=_AGAIN,
        )
    model, card = load_bundle(folder)
    if card.artifact.sha256 != recorded.get("sha256"):
        raise ArtifactError(
            f"the model card's sha256 differs from the one {MLMODEL} records; the files were "
            "altered.",
            path=folder,
            fix=_AGAIN,
        )
    return VerifiedPyfunc(Predictor.open(model, card, folder))


def _recorded_digests(folder: Path) -> dict[str, Any]:
    import yaml

    try:
        meta = yaml.safe_load((folder / MLMODEL).read_text(encoding="utf-8"))
        found = meta["metadata"][_METADATA]
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as e:
        raise ArtifactError(
            f"the {MLMODEL} file records no mlgate digests ({e!r}), so the model cannot be "
            "verified and is not loaded.",
            path=folder,
            fix=_AGAIN,
        ) from e
    if not isinstance(found, dict):
        raise ArtifactError(f"the {MLMODEL} file's mlgate digests are damaged.", path=folder)
    return found


def _card(bundle: Path) -> ModelCard:
    try:
        return ModelCard.model_validate_json((bundle / CARD_FILE).read_bytes())
    except (OSError, ValueError) as e:  # pydantic's ValidationError is a ValueError
        raise ArtifactError(
            f"cannot read the model card ({e}).",
            path=bundle / CARD_FILE,
            fix="Register the output folder of `mlgate run`.",
        ) from e


def _example(bundle: Path, card: ModelCard) -> pd.DataFrame | None:
    """A few rows of the saved test set, features only, as the signature types them;
    rows without missing values first (they read back the same from JSON)."""
    import pandas as pd

    path = bundle / TEST_SET
    if not path.is_file():
        return None
    features = pd.read_parquet(path, columns=card.features)
    whole = features.dropna()
    rows = (whole if len(whole) else features).head(EXAMPLE_ROWS)
    example = prepare_features(rows, card.kinds).reset_index(drop=True)
    # MLflow compares the column names with a range, which pandas' text index deprecates.
    example.columns = pd.Index(list(example.columns), dtype=object)
    return example
