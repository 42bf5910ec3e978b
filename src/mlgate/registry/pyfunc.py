"""MLflow's view of a bundle: an MLmodel whose `python_function` flavour is mlgate's loader.

`write_mlmodel` adds to a bundle the files MLflow reads (MLmodel, the input example,
requirements.txt, python_env.yaml, conda.yaml) with a signature built from the model
card. MLflow then loads the version through `_load_pyfunc` here, which checks the
digests as `load_ref` does for a folder and loads model.skops with skops' trusted
types, never with pickle. The MLmodel records the sha256 of model.json too, so a
card rewritten after the MLmodel was written is refused. Predictions are those of
the gateway: the rows go through `prepare_features` first.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ArtifactError, DataError
from mlgate.registry._mlflow import quiet_mlflow
from mlgate.registry._record import MLMODEL
from mlgate.registry.artifacts import sha256_file
from mlgate.registry.bundle import CARD_FILE, TEST_SET, ModelCard, load_bundle
from mlgate.training.preprocessing import prepare_features

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models.signature import ModelSignature

__all__ = ["MLMODEL", "VerifiedPyfunc", "model_signature", "write_mlmodel"]

#: This module: MLflow imports it by name and calls its `_load_pyfunc`.
LOADER = __name__
#: Rows of the saved test set kept as the input example.
EXAMPLE_ROWS = 5
#: Where the MLmodel keeps the digests it was written for.
_METADATA = "mlgate"
#: Lineage entries that are not pip packages.
_NOT_PIP = frozenset({"python"})
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
    """A verified, loaded bundle as MLflow's `python_function` model: labels or numbers."""

    def __init__(self, model: Any, card: ModelCard) -> None:
        self.model = model
        self.card = card

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """What the gateway answers for these rows: class labels, or doubles for regressors."""
        import numpy as np
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [name for name in self.card.features if name not in frame.columns]
        if missing:
            raise DataError(
                f"the input lacks feature(s) {', '.join(missing)}.",
                fix=f"Send every feature the model takes: {', '.join(self.card.features)}.",
            )
        labels = np.asarray(self.model.predict(prepare_features(frame, self.card.kinds)))
        return labels.astype(np.float64) if self.card.task == "regression" else labels


def model_signature(card: ModelCard) -> ModelSignature:
    """The signature the card implies: numeric features as doubles, categorical ones as
    strings; out, the label (its type from the classes) or a double for regressors."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("double" if card.kinds.get(name) == "numeric" else "string", name)
            for name in card.features
        ]
    )
    if card.task == "regression":
        output = "double"
    else:
        kinds = {_LABEL_TYPES.get(type(c), "string") for c in card.classes or []}
        output = kinds.pop() if len(kinds) == 1 else "string"
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec(output, card.target)]))


def write_mlmodel(bundle: Path, packages: dict[str, str]) -> list[str]:
    """Write the MLmodel and the files MLflow reads beside it into `bundle`; their names.

    `packages` are the lineage's package versions, pinned in the requirements with
    mlgate itself. MLflow's files from an earlier run into the same folder are replaced,
    the bundle's own never.
    """
    card = _card(bundle)
    mlflow_pyfunc = _import_pyfunc()
    digests = {"card_sha256": sha256_file(bundle / CARD_FILE), "sha256": card.artifact.sha256}
    with tempfile.TemporaryDirectory(prefix="mlgate-mlmodel-") as scratch:
        made = Path(scratch) / "model"
        try:
            mlflow_pyfunc.save_model(
                str(made),
                loader_module=LOADER,
                signature=model_signature(card),
                input_example=_example(bundle, card),
                pip_requirements=_requirements(packages),
                metadata={_METADATA: digests},
            )
        except Exception as e:  # MLflow raises its own and whatever its helpers do
            raise ArtifactError(
                f"MLflow could not write the {MLMODEL} file ({e}), so no version was registered.",
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
    """`mlflow.pyfunc`, without the warning its first import gives about MLflow's own hints."""
    import warnings

    quiet_mlflow()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*Any type hint", UserWarning)
        import mlflow.pyfunc
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
    return VerifiedPyfunc(model, card)


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
        return ModelCard.model_validate(
            json.loads((bundle / CARD_FILE).read_text(encoding="utf-8"))
        )
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


def _requirements(packages: dict[str, str]) -> list[str]:
    """mlgate and the lineage's packages, pinned as they were at training."""
    from importlib import metadata

    pins = {name: version for name, version in packages.items() if name not in _NOT_PIP}
    if "mlgate" not in pins:
        try:
            pins["mlgate"] = metadata.version("mlgate")
        except metadata.PackageNotFoundError:
            pins["mlgate"] = ""
    return [f"{name}=={version}" if version else name for name, version in sorted(pins.items())]
