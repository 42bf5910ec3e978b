"""Comparing two models by reference, and judging comparison files: `compare` and `gate`."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from mlgate.config.loader import load_config
from mlgate.config.models import GatesConfig, PipelineConfig
from mlgate.data.io import read_pandas
from mlgate.errors import ConfigError, DataError
from mlgate.gates.absolute import GateResult
from mlgate.gates.compare import Comparison, compare_models
from mlgate.gates.decide import decide
from mlgate.registry.bundle import TEST_SET
from mlgate.registry.catalog import Catalog
from mlgate.registry.refs import is_registry_ref, load_ref

__all__ = ["compare_refs", "gate_comparison_file", "with_rule"]


def with_rule(gates: GatesConfig, rule: str | None) -> GatesConfig:
    """`gates` with its decision rule replaced when one is given."""
    if rule is None:
        return gates
    try:
        return GatesConfig.model_validate(gates.model_dump() | {"rule": rule})
    except ValidationError as e:
        from typing import get_args

        allowed = ", ".join(get_args(GatesConfig.model_fields["rule"].annotation))
        raise ConfigError(
            "unknown decision rule.", field="--rule", value=rule, allowed=allowed
        ) from e


def _project(config: Path) -> tuple[Path, PipelineConfig | None]:
    if config.exists():
        loaded = load_config(config)
        return loaded.base_dir, loaded
    return Path.cwd(), None


def compare_refs(
    baseline: str,
    candidate: str,
    *,
    data: str | None = None,
    config: Path = Path("mlgate.yaml"),
    rule: str | None = None,
    seed: int = 0,
) -> Comparison:
    """Load two models by reference and compare them on the same labelled rows."""
    base_dir, project = _project(config)
    needs_catalog = is_registry_ref(baseline) or is_registry_ref(candidate)
    catalog = Catalog.open(base_dir, create=False) if needs_catalog else None
    base = load_ref(baseline, base_dir=base_dir, catalog=catalog)
    cand = load_ref(candidate, base_dir=base_dir, catalog=catalog)
    if data is None:
        saved = cand.folder / TEST_SET
        if not saved.exists():
            raise DataError(
                f"the candidate {candidate} has no saved test set.",
                fix="Pass --data with labelled rows to compare on.",
            )
        frame, source = read_pandas(saved), f"{candidate} test set"
    else:
        frame, source = read_pandas(data), data
    slices = [s for s in project.evaluation.slices if s in frame.columns] if project else []
    gates = project.gates if project else GatesConfig()
    comparison = compare_models(
        base, cand, frame, source=source, slices=slices, confidence=gates.confidence, seed=seed
    )
    if project is not None or rule is not None:
        comparison.verdict = decide(comparison, with_rule(gates, rule))
    return comparison


def gate_comparison_file(
    path: Path,
    *,
    min_accuracy: float | None = None,
    max_regression: float | None = None,
    rule: str | None = None,
    config: Path = Path("mlgate.yaml"),
) -> GateResult:
    """The verdict on a saved comparison: the flags' thresholds, else the config's gates."""
    if not path.is_file():
        raise ConfigError(
            "comparison file not found.", file=path, fix="Write one with mlgate compare -o."
        )
    try:
        comparison = Comparison.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as e:
        raise ConfigError(
            "not a comparison file written by `mlgate compare -o`.",
            file=path,
            fix="Pass the comparison.json that mlgate compare wrote.",
        ) from e
    if min_accuracy is not None or max_regression is not None:
        gates = GatesConfig(
            min={"accuracy": min_accuracy} if min_accuracy is not None else {},
            max_regression={"accuracy": max_regression} if max_regression is not None else {},
        )
    else:
        _, project = _project(config)
        gates = project.gates if project else GatesConfig()
    return decide(comparison, with_rule(gates, rule))
