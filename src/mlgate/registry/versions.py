"""What mlgate knows of a registered version and model, and how references name them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mlgate.errors import RegistryError

__all__ = ["CHALLENGER", "CHAMPION", "ModelSummary", "VersionInfo", "parse_ref"]

CHAMPION = "champion"
CHALLENGER = "challenger"


class VersionInfo(BaseModel):
    """One registered version as mlgate sees it."""

    name: str
    version: str
    run_id: str | None
    source: str
    passed: bool | None = Field(description="The gate verdict it was registered with.")
    reasons: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    sha256: str | None = Field(None, description="Digest of model.skops, kept in the registry.")
    card_sha256: str | None = Field(
        None, description="Digest of model.json (which records model.onnx's), kept in the registry."
    )
    created: datetime
    tags: dict[str, str] = Field(default_factory=dict)


class ModelSummary(BaseModel):
    """A registered model and where its aliases point."""

    name: str
    versions: int
    latest: str | None
    champion: str | None
    challenger: str | None


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """(name, version, alias) of `models:/NAME/VERSION`, `models:/NAME@ALIAS`, NAME@ALIAS."""
    body = ref.removeprefix("models:/")
    if "@" in body:
        name, _, alias = body.partition("@")
        if name and alias:
            return name, None, alias
    elif "/" in body:
        name, _, version = body.partition("/")
        if name and version.isdigit():
            return name, version, None
    raise RegistryError(
        f"cannot read the model reference {ref!r}.",
        fix="Write models:/NAME/VERSION, models:/NAME@ALIAS (or NAME@ALIAS), or a run folder.",
    )
