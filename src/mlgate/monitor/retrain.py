"""The retraining set: the configured training data and the window's labelled traffic.

Logged traffic holds only the features the champion was served (never the
columns `data.drop` names), its labels come from feedback, and it repeats rows
as live traffic does. So the retraining set is built from the model's columns
(features and target) and checked in two parts:

- the configured training data against the configured schema as it is, every
  rule included, as in any run: it is the original training data;
- the whole retraining set (and its test rows) against that schema restricted
  to the model's columns and without the duplicate-row rule, written beside the
  set (`schema.yaml`); without a configured schema, the one inferred from the
  retraining set, as any run infers it. Every other rule (types, missing rates,
  ranges, categories, means, row count) holds for traffic as for the training
  data: they are the team's word on what a model may learn from.

Requests are told apart by their id, so two equal rows of traffic are two
observations, not a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config.models import PipelineConfig
from mlgate.data.infer import infer_schema
from mlgate.data.io import read_pandas
from mlgate.data.schema import Schema, load_schema
from mlgate.data.validate import ValidationReport, validate
from mlgate.road.checks import feature_columns

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MIN_RECENT_TEST_ROWS", "Retraining", "retraining_schema", "retraining_set"]

#: Fewest recent labelled rows before a share of them is held out as the test set.
MIN_RECENT_TEST_ROWS = 20


@dataclass(frozen=True)
class Retraining:
    """A retraining's config, its data and schema written under `folder`."""

    config: PipelineConfig
    folder: Path
    #: Whether the test rows are held out from recent traffic (what beat_champion judges on).
    recent_test: bool


def retraining_schema(config: PipelineConfig, train: pd.DataFrame, columns: list[str]) -> Schema:
    """The schema the retraining set is validated against (see the module's docstring)."""
    base = load_schema(config.resolve(config.schema_file)) if config.schema_file else None
    if base is None:
        base = infer_schema(train)
    kept = {name: rules for name, rules in base.columns.items() if name in columns}
    dataset = base.dataset.model_copy(update={"max_duplicates": None, "max_duplicate_rate": None})
    return Schema(columns=kept, dataset=dataset)


def _problems(part: str, report: ValidationReport) -> list[str]:
    return [f"{part}: {v.column + ': ' if v.column else ''}{v.message}" for v in report.violations]


def _like(values: pd.Series, reference: pd.Series) -> pd.Series:
    """Logged values (categories as text) in the configured column's type, where they all fit."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(reference):
        known = values.dropna().astype(str).str.lower()
        if known.isin(["true", "false", "1", "0"]).all():
            text = values.astype(str).str.lower()
            return text.isin(["true", "1"]).where(values.notna())
        return values
    if pd.api.types.is_numeric_dtype(reference) and not pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        return numbers if bool((numbers.notna() | values.isna()).all()) else values
    return values


def _as_target(labels: pd.Series, target: pd.Series) -> pd.Series:
    """Feedback labels (logged as text) in the training target's type."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(target):
        return labels.astype(str).str.lower().isin(["true", "1"])
    if pd.api.types.is_numeric_dtype(target):
        numbers = pd.to_numeric(labels, errors="coerce")
        return numbers.astype(target.dtype) if numbers.notna().all() else numbers
    return labels.astype(str)


def _recent_rows(
    config: PipelineConfig,
    traffic: pd.DataFrame,
    configured: pd.DataFrame,
    features: list[str],
    notes: list[str],
) -> pd.DataFrame:
    """The window's labelled rows, newest first, as the configured data's columns and types."""
    import pandas as pd

    target, retrain = config.data.target, config.monitor.retrain
    recent = traffic[traffic["label"].notna()].sort_values("time", ascending=False, kind="stable")
    if retrain.max_recent_rows:
        recent = recent.head(retrain.max_recent_rows)
    absent = [f for f in features if f not in recent.columns]
    if absent and len(recent):
        notes.append(
            f"the logged traffic has no {', '.join(map(repr, absent))} (the champion was "
            "served without them): missing in every recent row"
        )
    rows = pd.DataFrame(
        {
            f: _like(recent[f], configured[f]) if f in recent.columns else [None] * len(recent)
            for f in features
        },
        index=recent.index,
    )
    rows[target] = _as_target(recent["label"], configured[target])
    return rows.reset_index(drop=True)


def retraining_set(
    config: PipelineConfig, traffic: pd.DataFrame, at: datetime, notes: list[str]
) -> Retraining | None:
    """The retraining's config, its data written under .mlgate/retrain/; None (with the reason
    in `notes`) when there is nothing to retrain on or the configured data fails its schema."""
    import pandas as pd

    retrain, target = config.monitor.retrain, config.data.target
    source = config.data.train
    configured = read_pandas(config.resolve(source))
    if retrain.include_configured and config.schema_file:
        report = validate(
            configured, load_schema(config.resolve(config.schema_file)), source=source
        )
        if not report.passed:
            notes.append(
                "the configured training data fails its schema, so nothing was retrained: "
                + "; ".join(_problems("train data", report))
            )
            return None
    features = feature_columns(config, configured, source)
    columns = [*features, target]
    rows = _recent_rows(config, traffic, configured, features, notes)
    test = None
    if retrain.evaluate_on == "recent" and len(rows) >= MIN_RECENT_TEST_ROWS:
        holdout = rows.sample(frac=config.data.holdout.test_size, random_state=config.seed)
        test, rows = holdout, rows.drop(holdout.index)
    elif retrain.evaluate_on == "recent":
        notes.append(
            f"{len(rows)} recent labelled row(s), fewer than the {MIN_RECENT_TEST_ROWS} a "
            "held-out test set needs: tested on the configured test data instead"
        )
    frames = ([configured[columns]] if retrain.include_configured else []) + (
        [rows] if retrain.include_recent else []
    )
    if sum(len(f) for f in frames) == 0:
        notes.append("nothing to retrain on: no configured data and no labelled traffic")
        return None
    combined: Any = pd.concat(frames, ignore_index=True)
    notes.append(
        f"retraining on {len(combined)} rows ("
        + (f"{len(configured)} configured, " if retrain.include_configured else "")
        + f"{len(rows) if retrain.include_recent else 0} recent labelled)"
        + (f"; testing on {len(test)} held-out recent rows" if test is not None else "")
    )
    folder = config.base_dir / ".mlgate" / "retrain" / at.strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True, exist_ok=True)
    combined.to_parquet(folder / "train.parquet", index=False)
    update: dict[str, Any] = {"train": str(folder / "train.parquet")}
    if test is not None:
        test.to_parquet(folder / "test.parquet", index=False)
        update |= {"test": str(folder / "test.parquet"), "split": None}
    elif config.data.test is not None:
        given = read_pandas(config.resolve(config.data.test))
        given[[c for c in given.columns if c in columns]].to_parquet(
            folder / "test.parquet", index=False
        )
        update["test"] = str(folder / "test.parquet")
    schema = retraining_schema(config, combined, columns)
    base = config.schema_file or "the schema inferred from the set"
    schema.save(folder / "schema.yaml", _HEADER.format(base=base))
    slices = [s for s in config.evaluation.slices if s in columns]
    if len(slices) < len(config.evaluation.slices):
        left = [s for s in config.evaluation.slices if s not in columns]
        notes.append(f"slice(s) {', '.join(map(repr, left))} are not features: not in traffic")
    # The set holds the features and the target alone: what data.drop names is not there.
    update["drop"] = []
    retrained = config.model_copy(
        update={
            "data": config.data.model_copy(update=update),
            "schema_file": str(folder / "schema.yaml"),
            "evaluation": config.evaluation.model_copy(update={"slices": slices}),
        }
    )
    retrained._source = config.source
    return Retraining(retrained, folder, recent_test=test is not None)


_HEADER = """\
The schema this retraining set is validated against: {base}, restricted to the
model's columns (features and target), without the duplicate-row rule (live
traffic repeats rows; the rule holds for the configured training data, checked
against the configured schema as it is)."""
