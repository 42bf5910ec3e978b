"""Model cards: built from a version's stored evidence, written at registration and
rebuilt on demand (`mlgate models card`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.drift.profile import PROFILE, Profile
from mlgate.errors import ArtifactError
from mlgate.registry.bundle import CARD_FILE, ModelCard
from mlgate.reporting.model_card import CARD_MARKDOWN, card_html, card_markdown, card_sections
from mlgate.results import RunResult

if TYPE_CHECKING:
    from mlgate.project import Project
    from mlgate.registry.history import AliasEvent

__all__ = ["model_card", "write_card"]

_RUN = "run.json"


def _evidence(folder: Path) -> tuple[RunResult, ModelCard, Profile | None]:
    """The run's result, the card and the reference profile stored in `folder`."""
    try:
        run = RunResult.model_validate_json((folder / _RUN).read_bytes())
        card = ModelCard.model_validate_json((folder / CARD_FILE).read_bytes())
    except (OSError, ValueError) as e:
        raise ArtifactError(
            f"the version's stored evidence cannot be read ({e}).",
            path=folder,
            fix="Model cards are built from run.json and model.json, which versions "
            "registered by `mlgate run` hold.",
        ) from e
    profile = Profile.load(folder / PROFILE) if (folder / PROFILE).exists() else None
    return run, card, profile


def model_card(project: Project, name: str, version: str, *, as_html: bool = False) -> str:
    """The model card of `name` version `version`, from its stored evidence and the
    alias history, in Markdown (or HTML)."""
    catalog = project.catalog
    info = catalog.version(name, version)
    run, card, profile = _evidence(catalog.local_path(info))
    events: list[AliasEvent] = catalog.history(name)
    sections = card_sections(run, card, profile, version=info.version, events=events)
    title = f"{name} version {info.version}"
    return card_html(sections, title=title) if as_html else card_markdown(sections, title=title)


def write_card(result: RunResult, folder: Path) -> Path:
    """The card of a run about to be registered, written into its folder (so the registry
    keeps it with the version)."""
    _, card, profile = _evidence_without_run(folder)
    sections = card_sections(result, card, profile, version=None, events=[])
    path = folder / CARD_MARKDOWN
    path.write_text(card_markdown(sections, title=f"{result.name}, run {result.run_id}"), "utf-8")
    return path


def _evidence_without_run(folder: Path) -> tuple[None, ModelCard, Profile | None]:
    card = ModelCard.model_validate_json((folder / CARD_FILE).read_bytes())
    profile = Profile.load(folder / PROFILE) if (folder / PROFILE).exists() else None
    return None, card, profile
