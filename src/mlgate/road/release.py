"""After a run: register the version, move the aliases its verdict allows, and say so.

The first version that passes its gates becomes `champion`. A later version
that passes its gates, including those against the champion, becomes
`challenger`: it reaches users only through a rollout. A failed version is
registered too, marked failed, with no alias.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.config.settings import redact_url
from mlgate.registry.pyfunc import write_mlmodel
from mlgate.registry.versions import CHALLENGER, CHAMPION
from mlgate.results import Registration, RunResult
from mlgate.road.card import write_card

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["register_run"]


def register_run(project: Project, result: RunResult) -> Registration:
    """Register the run's model folder, move the aliases its verdict allows, notify."""
    config, catalog = project.config, project.catalog
    # MLflow's own loaders, `mlflow models serve` and its signature view read this.
    write_mlmodel(Path(result.output_dir), result.lineage.packages)
    # Stored with the version: the card as it stood at registration.
    write_card(result, Path(result.output_dir))
    alias = None
    # One registration at a time (on a SQLite registry): of two runs at once, the
    # second sees the first's champion. The run ends when the aliases are moved.
    with catalog.registering(
        config.name,
        Path(result.output_dir),
        passed=result.passed,
        reasons=result.reasons,
        metrics=_metrics(result),
        params={"estimator": config.model.estimator}
        | {f"param.{k}": v for k, v in config.model.params.items()},
        tags=_tags(result),
        sha256=result.model.sha256 if result.model else "",
        run_name=result.run_id,
    ) as info:
        if result.passed:
            first = catalog.alias(config.name, CHAMPION) is None
            alias = CHAMPION if first else CHALLENGER
            if first:
                reason = "first version to pass its gates"
            elif result.comparison is not None:
                reason = "passed its gates against the champion"
            else:  # another run registered the first champion while this one was gated
                reason = "passed its gates; not compared with the champion, registered meanwhile"
            catalog.move_alias(config.name, alias, info.version, action="register", reason=reason)
    _notify(project, result, info.version, alias)
    return Registration(
        name=config.name,
        version=info.version,
        uri=f"models:/{config.name}/{info.version}",
        alias=alias,
        registry=redact_url(catalog.uri),
    )


def _tags(result: RunResult) -> dict[str, str]:
    lineage = result.lineage
    return {
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


def _metrics(result: RunResult) -> dict[str, float | None]:
    metrics = dict(result.metrics)
    metrics |= {f"cv_{cv.metric}_mean": cv.mean for cv in result.cross_validation}
    if result.training_time_s is not None:
        metrics["training_time_s"] = result.training_time_s
    if result.model is not None:
        metrics["model_size_mb"] = result.model.size_bytes / 1e6
    return metrics


def _notify(project: Project, result: RunResult, version: str, alias: str | None) -> None:
    """Tell the webhook about a failed gate, or a new champion or challenger."""
    name = project.name
    if result.passed:
        text = f"mlgate {name}: version {version} passed its gates and is {alias}"
        event = "gate_passed"
    else:
        text = f"mlgate {name}: version {version} FAILED its gates: " + "; ".join(result.reasons)
        event = "gate_failed"
    project.notifier.notify(event, text, model=name, version=version, alias=alias)
