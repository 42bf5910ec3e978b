"""Checks of a config against its data, before anything is fitted.

Each refuses with a DataError or ConfigError naming the file, the columns and
the fix; none changes the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.config.models import PipelineConfig
from mlgate.data.disclosure import closest, column, examples, names
from mlgate.errors import ConfigError, DataError
from mlgate.training.task import Task, estimator_task, infer_task

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "check_rows",
    "check_slices",
    "check_text_among_numbers",
    "check_usable",
    "decide_task",
    "feature_columns",
]


def feature_columns(config: PipelineConfig, frame: pd.DataFrame, source: str) -> list[str]:
    target, drop = config.data.target, set(config.data.drop)
    unknown = [d for d in config.data.drop if d not in frame.columns]
    if unknown:
        # A misspelt name would leave the column it meant among the features, unnoticed.
        raise DataError(
            f"data.drop names column(s) that are not in the data: {', '.join(unknown)}.",
            source=source,
            fix=f"{closest(unknown[0], frame.columns)}Columns there: {names(frame.columns)}.",
        )
    if config.data.features is not None:
        missing = [f for f in config.data.features if f not in frame.columns]
        if missing:
            raise DataError(
                f"data.features names column(s) that are not in the data: {', '.join(missing)}.",
                source=source,
                fix=f"Columns there: {names(frame.columns)}.",
            )
        features = [f for f in config.data.features if f != target and f not in drop]
    else:
        features = [str(c) for c in frame.columns if c != target and c not in drop]
    if not features:
        raise DataError(
            "no feature columns are left besides the target.",
            source=source,
            fix="Check data.features and data.drop.",
        )
    return features


def check_rows(
    frame: pd.DataFrame,
    source: str,
    fix: str = "Point data.train / data.test at a file with labelled rows.",
) -> None:
    if frame.empty:
        raise DataError(
            f"the data has a header ({frame.shape[1]} column(s)) but no rows.",
            source=source,
            fix=fix,
        )


def check_usable(frame: pd.DataFrame, features: list[str], source: str) -> None:
    empty = [f for f in features if frame[f].isna().all()]
    if empty:
        raise DataError(
            f"feature column(s) with no values at all, missing in every one of the "
            f"{len(frame)} rows: {', '.join(column(f, quoted=False) for f in empty)}.",
            source=source,
            fix="Fill them, or list them under data.drop.",
        )


#: Share of a text column's values that must be numbers for the rest to look like typos.
MOSTLY_NUMBERS = 0.9


def check_text_among_numbers(frame: pd.DataFrame, features: list[str], source: str) -> None:
    """Refuse text columns that are numbers but for a few values (no schema says otherwise).

    Without a schema, one typo such as 'oops' in a column of numbers makes the
    inferred dtype text, and the model would one-hot encode every distinct number.
    """
    import pandas as pd

    found = []
    for name in features:
        series = frame[name]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna()]
        if len(values) and 0 < len(bad) <= (1 - MOSTLY_NUMBERS) * len(values):
            shown = examples(bad.unique()[:3])
            found.append(
                f"{column(name)} ({len(bad)} of {len(values)} values"
                + (f", e.g. {shown})" if shown else ")")
            )
    if found:
        raise DataError(
            "column(s) of numbers with a few values that are not numbers, which would make "
            f"them categories: {'; '.join(found)}.",
            source=source,
            fix="Fix or blank those values; or, if the column is text, give the config a schema "
            "(`mlgate schema infer`) that says dtype: string.",
        )


def check_slices(config: PipelineConfig, frame: pd.DataFrame, source: str) -> None:
    missing = [c for c in config.evaluation.slices if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"slice column(s) not in the data of {source}: {', '.join(missing)}.",
            file=config.source,
            field="evaluation.slices",
            allowed=names(frame.columns),
            show_value=False,
        )


def decide_task(config: PipelineConfig, estimator: Any, target: pd.Series) -> Task:
    """The task: as configured, else as the estimator declares, else from the labels.

    A classifier left to `task: auto` on a target of many distinct numbers is refused:
    each number would become a class of its own, a handful of rows each.
    """
    declared = estimator_task(estimator)
    if config.task == "auto":
        if declared == "classification" and infer_task(target) == "regression":
            raise ConfigError(
                f"{config.model.estimator} is a classifier, but target column "
                f"{config.data.target!r} holds {target.nunique()} distinct numbers, as a "
                "regression target does; each would become a class of its own.",
                file=config.source,
                field="model.estimator",
                fix="Choose a regressor, or set task: classification if the numbers "
                "really are class labels.",
            )
        return declared or infer_task(target)
    if declared is not None and declared != config.task:
        kind = "classifier" if declared == "classification" else "regressor"
        raise ConfigError(
            f"{config.model.estimator} is a {kind}, but the config says task: {config.task}.",
            file=config.source,
            field="task",
            fix=f"Set task: {declared} (or auto), or choose a "
            f"{'regressor' if kind == 'classifier' else 'classifier'}.",
        )
    return config.task
