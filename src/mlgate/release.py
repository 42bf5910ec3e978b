"""After a run: compare with the champion, register the version, move the aliases.

The first version that passes its gates becomes `champion`. A later version
that passes its gates, including those against the champion, becomes
`challenger`: it reaches users only through a rollout. A failed version is
registered too, marked failed, with no alias.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from mlgate.config.models import PipelineConfig
from mlgate.gates.compare import Comparison, compare_models
from mlgate.gates.decide import decide
from mlgate.registry.catalog import CHALLENGER, CHAMPION, Catalog
from mlgate.registry.refs import load_ref

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.pipeline import RunResult

__all__ = ["Registration", "compare_with_champion", "register_run"]


class Registration(BaseModel):
    """Where a run landed in the registry."""

    name: str
    version: str
    uri: str
    alias: str | None
    registry: str


def compare_with_champion(
    config: PipelineConfig, catalog: Catalog, out: Path, test: pd.DataFrame
) -> Comparison | None:
    """The candidate in `out` against the current champion on the candidate's test rows."""
    champion = catalog.alias(config.name, CHAMPION) if catalog.has_model(config.name) else None
    if champion is None:
        return None
    ref = f"models:/{config.name}/{champion.version}"
    baseline = load_ref(ref, base_dir=config.base_dir, catalog=catalog)
    candidate = load_ref(str(out), base_dir=config.base_dir)
    slices = [s for s in config.evaluation.slices if s in test.columns]
    comparison = compare_models(
        baseline,
        candidate,
        test,
        source="the candidate's test set",
        slices=slices,
        confidence=config.gates.confidence,
        seed=config.seed,
    )
    comparison.baseline_ref = f"{ref} (champion)"
    comparison.verdict = decide(comparison, config.gates)
    return comparison


def register_run(config: PipelineConfig, result: RunResult, catalog: Catalog) -> Registration:
    """Register the run's model folder and move the aliases its verdict allows."""
    lineage = result.lineage
    tags = {
        "mlgate.task": result.task or "",
        "mlgate.target": result.target,
        "mlgate.stage": result.stage,
        "mlgate.config_hash": lineage.config_hash,
        "mlgate.train_fingerprint": lineage.train_fingerprint,
        "mlgate.test_fingerprint": lineage.test_fingerprint or "held out from train",
        "mlgate.git_commit": lineage.git_commit or "",
        "mlgate.seed": str(lineage.seed),
        "mlgate.packages": ", ".join(f"{k}={v}" for k, v in lineage.packages.items()),
        "mlgate.run_id": result.run_id,
    }
    params = {"estimator": config.model.estimator} | {
        f"param.{k}": v for k, v in config.model.params.items()
    }
    metrics = dict(result.metrics)
    metrics |= {f"cv_{cv.metric}_mean": cv.mean for cv in result.cross_validation}
    if result.training_time_s is not None:
        metrics["training_time_s"] = result.training_time_s
    if result.model is not None:
        metrics["model_size_mb"] = result.model.size_bytes / 1e6
    info = catalog.register(
        config.name,
        Path(result.output_dir),
        passed=result.passed,
        reasons=result.reasons,
        metrics=metrics,
        params=params,
        tags=tags,
        sha256=result.model.sha256 if result.model else "",
        run_name=result.run_id,
    )
    alias = None
    if result.passed:
        if catalog.alias(config.name, CHAMPION) is None:
            catalog.move_alias(
                config.name,
                CHAMPION,
                info.version,
                action="register",
                reason="first version to pass its gates",
            )
            alias = CHAMPION
        else:
            catalog.move_alias(
                config.name,
                CHALLENGER,
                info.version,
                action="register",
                reason="passed its gates against the champion",
            )
            alias = CHALLENGER
    from mlgate.config.settings import redact_url

    _notify(config, result, info.version, alias)
    return Registration(
        name=config.name,
        version=info.version,
        uri=f"models:/{config.name}/{info.version}",
        alias=alias,
        registry=redact_url(catalog.uri),
    )


def _notify(config: PipelineConfig, result: RunResult, version: str, alias: str | None) -> None:
    """Tell the webhook about a failed gate, or a new champion or challenger."""
    import os

    from mlgate.reporting.notify import Notifier

    notifier = Notifier(config.rollout.webhook or os.environ.get("MLGATE_WEBHOOK_URL"))
    if not notifier.enabled:
        return
    if result.passed:
        text = f"mlgate {config.name}: version {version} passed its gates and is {alias}"
        event = "gate_passed"
    else:
        text = f"mlgate {config.name}: version {version} FAILED its gates: " + "; ".join(
            result.reasons
        )
        event = "gate_failed"
    notifier.notify(event, text, model=config.name, version=version, alias=alias)
    notifier.close()
