"""What the registry records about a version: the digests of a checked bundle, its reasons.

A bundle is registered only whole and as it was written; the failure reasons are
kept as JSON in a tag, cut to whole reasons so that they always read back.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlgate.errors import ArtifactError
from mlgate.registry.artifacts import sha256_file

__all__ = ["check_bundle", "fit_reasons", "read_reasons"]

#: Files a bundle must hold, logged and checked before a version points at them.
REQUIRED = ("model.json", "model.skops")
#: MLflow's description of a bundle (see `mlgate.registry.pyfunc`).
MLMODEL = "MLmodel"
#: Room for the failure reasons in a tag.
REASONS_LIMIT = 5000


def check_bundle(bundle: Path, sha256: str) -> tuple[str, str, list[str]]:
    """The digests of model.skops and model.json, and the files to find once logged.

    The bundle must be whole and untouched: model.skops as trained (digest `sha256`,
    when given), and model.onnx and the flavour's other files, those the card names, as
    the card records them.
    """
    lost = [f for f in REQUIRED if not (bundle / f).is_file()]
    if lost:
        raise ArtifactError(
            f"cannot register this folder: {', '.join(lost)} missing.",
            path=bundle,
            fix="Register the output folder of `mlgate run` or `mlgate train`.",
        )
    model_sha256 = sha256_file(bundle / "model.skops")
    if sha256 and model_sha256 != sha256:
        raise ArtifactError(
            "model.skops changed after training: its sha256 differs from the run's.",
            path=bundle,
            fix="Train again; mlgate registers only the model file it wrote.",
        )
    required = list(REQUIRED)
    try:
        card = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
        named = [card.get("onnx"), *card.get("files", [])]
    except (ValueError, AttributeError, TypeError) as e:
        raise ArtifactError(
            f"model.json is not a model card ({e}).", path=bundle, fix="Train again."
        ) from e
    for file in named:
        if not isinstance(file, dict) or not file.get("path") or file["path"] in required:
            continue
        path = bundle / str(file["path"])
        if not path.is_file() or sha256_file(path) != file.get("sha256"):
            raise ArtifactError(
                f"{file['path']} is missing or differs from the one its card records.",
                path=bundle,
                fix="Train again; mlgate registers only the files it wrote.",
            )
        required.append(str(file["path"]))
    if (bundle / MLMODEL).is_file():  # MLflow's view of it: bundles before it have none
        required.append(MLMODEL)
    return model_sha256, sha256_file(bundle / "model.json"), required


def fit_reasons(reasons: list[str]) -> str:
    """The reasons as JSON that fits a tag: whole reasons, then how many were left out."""
    kept: list[str] = []
    for reason in reasons:
        trial = [*kept, reason if len(reason) <= 1000 else reason[:999] + "…"]
        rest = len(reasons) - len(trial)
        tail = [f"... and {rest} more (see the run's summary)"] if rest else []
        if len(json.dumps(trial + tail)) > REASONS_LIMIT:
            kept.append(f"... and {len(reasons) - len(kept)} more (see the run's summary)")
            break
        kept = trial
    return json.dumps(kept)


def read_reasons(text: str | None) -> list[str]:
    """The reasons a tag holds; a tag that is not mlgate's JSON is one reason as it is."""
    if not text:
        return []
    try:
        found = json.loads(text)
    except ValueError:
        return [text]  # written by something other than mlgate
    return [str(r) for r in found] if isinstance(found, list) else [str(found)]
