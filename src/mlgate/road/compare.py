"""Comparing two models on the same labelled rows, with the gates' verdict.

The models are loaded (verified) and scored here; the comparison itself and
its verdict are computed from their answers alone (`mlgate.gates`).
`mlgate compare` calls `compare_refs`; a run calls `compare_with_champion` and
`latency_check`. A comparison saved to a file is judged by `mlgate.road.gate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlgate.config.models import GatesConfig
from mlgate.data.io import read_pandas
from mlgate.errors import ArtifactError, ConfigError, DataError
from mlgate.evaluation.evaluate import predict_rows, unseen_labels
from mlgate.evaluation.importance import importance_changes
from mlgate.gates.absolute import GateCheck
from mlgate.gates.compare import Comparison, Scores, Side, compare_predictions
from mlgate.gates.decide import decide
from mlgate.registry.bundle import TEST_SET
from mlgate.registry.refs import LoadedModel, is_registry_ref, load_ref
from mlgate.registry.versions import CHAMPION

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.project import Project

__all__ = [
    "compare_models",
    "compare_refs",
    "compare_with_champion",
    "latency_check",
    "with_rule",
]


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


def compare_models(
    baseline: LoadedModel,
    candidate: LoadedModel,
    frame: pd.DataFrame,
    *,
    source: str,
    slices: list[str] | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """Score both models on `frame`'s rows and compare them pair by pair."""
    import numpy as np

    _check_pair(baseline, candidate, frame, source)
    if frame.empty:
        raise DataError("the comparison data has no rows.", source=source)
    for column in slices or []:
        if column not in frame.columns:
            raise DataError(f"slice column {column!r} is not in the data.", source=source)
    card = candidate.card
    comparison = compare_predictions(
        card.task,
        frame[card.target].to_numpy(),
        _score(baseline, frame, source),
        _score(candidate, frame, source),
        labels=np.asarray(card.classes) if card.classes else None,
        baseline=_side(baseline),
        candidate=_side(candidate),
        source=source,
        slices={column: frame[column] for column in slices or []},
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    comparison.importance = importance_changes(baseline.card.importance, card.importance)
    if comparison.importance and card.importance is not None:
        comparison.importance_score = card.importance.score
    return comparison


def compare_refs(
    project: Project,
    baseline: str,
    candidate: str,
    *,
    data: str | None = None,
    rule: str | None = None,
    seed: int | None = None,
) -> Comparison:
    """Load two models by reference and compare them on the same labelled rows; with a
    config (or a rule) the comparison carries the gates' verdict. The bootstrap's seed is
    the config's (as a run's comparison with the champion uses), else 0."""
    needs_catalog = is_registry_ref(baseline) or is_registry_ref(candidate)
    catalog = project.catalog if needs_catalog else None
    base = load_ref(baseline, catalog=catalog)
    cand = load_ref(candidate, catalog=catalog)
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
    config = project.config if project.has_config else None
    slices = [s for s in config.evaluation.slices if s in frame.columns] if config else []
    gates = config.gates if config else GatesConfig()
    if seed is None:
        seed = config.seed if config else 0
    comparison = compare_models(
        base, cand, frame, source=source, slices=slices, confidence=gates.confidence, seed=seed
    )
    if config is not None or rule is not None:
        comparison.verdict = decide(comparison, with_rule(gates, rule))
    return comparison


def compare_with_champion(project: Project, out: Path, test: pd.DataFrame) -> Comparison | None:
    """The candidate in the run folder `out` against the current champion on the
    candidate's test rows, with the gates' verdict; None when there is no champion."""
    config, catalog = project.config, project.catalog
    champion = catalog.alias(config.name, CHAMPION) if catalog.has_model(config.name) else None
    if champion is None:
        return None
    ref = f"models:/{config.name}/{champion.version}"
    try:
        baseline = load_ref(ref, catalog=catalog)
    except ArtifactError as e:
        # Not the candidate's fault, and no reason to keep the project stuck behind it.
        raise DataError(
            f"the champion, version {champion.version}, cannot be loaded: {e.problem}",
            fix=f"Retire it with `mlgate models rollback {config.name}` (to the champion "
            f"before it, or to none), or promote this version by hand with `mlgate models "
            f"promote {config.name} VERSION --force`.",
        ) from e
    comparison = compare_models(
        baseline,
        load_ref(str(out)),
        test,
        source="the candidate's test set",
        slices=[s for s in config.evaluation.slices if s in test.columns],
        confidence=config.gates.confidence,
        seed=config.seed,
    )
    comparison.baseline_ref = f"{ref} (champion)"
    comparison.verdict = decide(comparison, config.gates)
    return comparison


#: A candidate within this many ms of the champion's p99 passes the latency gate whatever
#: the ratio (0.05 ms against 0.02 ms is no reason to refuse a model), as in the rollout.
LATENCY_SLACK_MS = 1.0


def latency_check(project: Project, out: Path, test: pd.DataFrame) -> GateCheck | None:
    """gates.max_latency_ratio: the candidate's p99 one-row latency over the champion's,
    each served as the gateway serves it, on the same rows; None when off or no champion."""
    from mlgate.registry.onnx import served_p99_ms
    from mlgate.training.preprocessing import prepare_features

    config, catalog = project.config, project.catalog
    limit = config.gates.max_latency_ratio
    champion = catalog.alias(config.name, CHAMPION) if catalog.has_model(config.name) else None
    if limit is None or champion is None:
        return None
    sides = [load_ref(f"models:/{config.name}/{champion.version}", catalog=catalog)]
    sides.append(load_ref(str(out)))
    p99 = []
    for side in sides:
        X = prepare_features(test, side.card.kinds)
        p99.append(served_p99_ms(side.model, side.card, side.folder, X))
    before, after = p99
    if before is None or after is None:
        return None
    ratio = after / before if before > 0 else float("inf")
    within = after - before <= LATENCY_SLACK_MS
    how = "ONNX Runtime" if sides[1].card.onnx is not None else "its own library (no ONNX)"
    reason = (
        f"p99 latency {after:.2f} ms (served by {how}) vs champion {before:.2f} ms: ratio "
        f"{ratio:.1f}, limit {limit:g}"
    )
    passed = ratio <= limit or within
    if within and ratio > limit:
        reason += f" (within the {LATENCY_SLACK_MS:g} ms slack)"
    if not passed:
        reason += (
            "; the canary would roll it back on latency. Export it to ONNX (see its "
            "onnx_note), choose a lighter model, or raise gates.max_latency_ratio"
        )
    return GateCheck(
        metric="p99_latency_ratio",
        kind="latency_ratio",
        bound=limit,
        value=round(ratio, 3),
        passed=passed,
        reason=reason,
    )


def _side(loaded: LoadedModel) -> Side:
    return Side(loaded.ref, loaded.training_time_s, loaded.size_mb)


def _score(loaded: LoadedModel, frame: pd.DataFrame, source: str) -> Scores:
    """The model's labels (or values) and class probabilities on `frame`'s rows."""
    from mlgate.training.preprocessing import prepare_features

    missing = [f for f in loaded.card.features if f not in frame.columns]
    if missing:
        raise DataError(
            f"the data lacks feature column(s) of {loaded.ref}: {', '.join(missing)}.",
            source=source,
        )
    X = prepare_features(frame, loaded.card.kinds)
    proba: Any = None
    if loaded.card.task == "classification" and hasattr(loaded.model, "predict_proba"):
        try:
            proba = loaded.model.predict_proba(X)
        except (AttributeError, NotImplementedError):
            proba = None
    return Scores(predict_rows(loaded.model, X), proba)


def _check_pair(
    baseline: LoadedModel, candidate: LoadedModel, frame: pd.DataFrame, source: str
) -> None:
    b, c = baseline.card, candidate.card
    if b.task != c.task:
        raise DataError(
            f"cannot compare a {b.task} model ({baseline.ref}) with a {c.task} model "
            f"({candidate.ref})."
        )
    if b.target != c.target:
        raise DataError(
            f"the models predict different targets: {b.target!r} ({baseline.ref}) and "
            f"{c.target!r} ({candidate.ref})."
        )
    if b.task == "classification" and sorted(map(str, b.classes or [])) != sorted(
        map(str, c.classes or [])
    ):
        raise DataError(
            f"the models know different label sets: {b.classes} ({baseline.ref}) and "
            f"{c.classes} ({candidate.ref}).",
            fix="Compare models trained on the same labels.",
        )
    if c.target not in frame.columns:
        raise DataError(f"the data has no target column {c.target!r}.", source=source)
    truth = frame[c.target]
    if truth.isna().any():
        raise DataError(
            f"the target column {c.target!r} is missing in {int(truth.isna().sum())} of "
            f"{len(truth)} row(s).",
            source=source,
            fix="Compare on labelled rows only.",
        )
    known = c.classes if c.task == "classification" else None
    unseen = unseen_labels(truth, known) if known is not None else None
    if unseen:
        raise DataError(
            f"the target holds label(s) neither model was trained on: {unseen}; they know "
            f"{', '.join(map(repr, known or []))}.",
            source=source,
            fix="Compare on data labelled like the training data.",
        )
