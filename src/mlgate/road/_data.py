"""The data of a run: read with its lineage, validated against the schema, prepared.

Each step refuses what it cannot use (a DataError or ConfigError naming the file,
the columns and the fix) before anything is fitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config.loader import config_hash
from mlgate.config.models import PipelineConfig
from mlgate.data.disclosure import column, withheld
from mlgate.data.fingerprint import fingerprint
from mlgate.data.infer import infer_schema, inference_header
from mlgate.data.io import read_arrow
from mlgate.data.schema import Schema, load_schema
from mlgate.data.validate import ValidationReport, validate
from mlgate.errors import DataError, MlgateError
from mlgate.gates.absolute import check_gate_metrics
from mlgate.lineage import Lineage, git_commit, package_versions
from mlgate.road.checks import (
    check_rows,
    check_slices,
    check_text_among_numbers,
    check_usable,
    decide_task,
    feature_columns,
)
from mlgate.training.preprocessing import feature_kinds, prepare_features
from mlgate.training.task import Task
from mlgate.training.train import check_target, split_holdout

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Data",
    "Prepared",
    "disclosure",
    "dropped_warnings",
    "identifier_warnings",
    "prepare",
    "read",
    "validate_data",
    "violations",
]


@dataclass
class Data:
    """The configured data as read, with its lineage."""

    train: pd.DataFrame
    test: pd.DataFrame | None
    train_pl: Any
    test_pl: Any
    lineage: Lineage
    #: Rows left out because their target is missing (data.drop_missing_target), by part.
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Prepared:
    """The rows the model is fitted and tested on, and what they are."""

    task: Task
    features: list[str]
    kinds: dict[str, str]
    train: pd.DataFrame
    test: pd.DataFrame
    evaluated_on: str
    X_train: Any
    X_test: Any


def _own(config: PipelineConfig, location: str) -> bool:
    """Whether `location` is a local file inside the project's folder (its errors may quote
    it); a file elsewhere could be anyone's, and a config is code a pull request can change."""
    if "://" in location:
        return False
    resolved = Path(config.resolve(location)).resolve()
    return resolved.is_relative_to(config.base_dir.resolve())


@contextmanager
def disclosure(config: PipelineConfig, data: Data) -> Iterator[None]:
    """A block whose messages keep a data file outside the project to themselves: its
    columns by position unless the project names them, none of its values (see
    `mlgate.data.disclosure`). Nothing is withheld when every file is the project's."""
    sources = [config.data.train, *([config.data.test] if config.data.test else [])]
    if all(_own(config, source) for source in sources):
        yield
        return
    named = {config.data.target, *config.data.drop, *config.evaluation.slices}
    named |= set(config.data.features or [])
    if config.schema_file:
        with suppress(MlgateError, OSError):  # validation reports a schema it cannot read
            named |= set(load_schema(config.resolve(config.schema_file)).columns)
    with withheld(data.train.columns, named=named):
        yield


def read(config: PipelineConfig) -> Data:
    """The train (and test) data, refused when empty, with the lineage of what was read."""
    import polars as pl

    train_source, test_source = config.data.train, config.data.test
    train_arrow = read_arrow(config.resolve(train_source), quote=_own(config, train_source))
    test_arrow = (
        read_arrow(config.resolve(test_source), quote=_own(config, test_source))
        if test_source
        else None
    )
    data = Data(
        train=train_arrow.to_pandas(),
        test=test_arrow.to_pandas() if test_arrow is not None else None,
        train_pl=pl.from_arrow(train_arrow),
        test_pl=pl.from_arrow(test_arrow) if test_arrow is not None else None,
        lineage=lineage(config),
    )
    if config.data.drop_missing_target:
        _drop_missing_target(data, config.data.target)
    check_rows(data.train, train_source)
    if data.test is not None and test_source:
        check_rows(data.test, test_source)
    return data


def _drop_missing_target(data: Data, target: str) -> None:
    """Leave out the rows whose target is missing, from both views of each file, and
    count them (a file without the target column is refused later, by name)."""
    import polars as pl

    for part in ("train", "test"):
        frame = getattr(data, part)
        if frame is None or target not in frame.columns:
            continue
        keep = frame[target].notna()
        if keep.all():
            continue
        data.dropped[part] = int((~keep).sum())
        setattr(data, part, frame[keep.to_numpy()].reset_index(drop=True))
        setattr(data, f"{part}_pl", getattr(data, f"{part}_pl").filter(pl.Series(keep.to_numpy())))


def dropped_warnings(dropped: dict[str, int], target: str) -> list[str]:
    """What a run says of the rows data.drop_missing_target left out."""
    return [
        f"{part} data: {count} row(s) whose target {target!r} is missing left out "
        "(data.drop_missing_target)"
        for part, count in dropped.items()
    ]


#: A categorical feature with a distinct value on at least this share of the training
#: rows (and at least `_MANY` values) is most likely an identifier.
_MOSTLY_DISTINCT = 0.5
_MANY = 50


def identifier_warnings(prepared: Prepared) -> list[str]:
    """What a run says of categorical features that look like identifiers: one-hot
    encoded, each of their values is a column the model learns from a row or two, the
    model grows with them, and at serving time every new id is unseen."""
    rows = len(prepared.train)
    found = []
    for name, kind in prepared.kinds.items():
        if kind != "categorical":
            continue
        distinct = int(prepared.train[name].nunique())
        if distinct >= _MANY and distinct >= _MOSTLY_DISTINCT * rows:
            found.append(
                f"feature {column(name)} has {distinct} distinct values in {rows} training "
                "rows: an identifier? One-hot encoded, it teaches the model little and "
                "makes it larger; list it under data.drop (or declare it numeric in the "
                "schema if it is a number)"
            )
    return found


def lineage(config: PipelineConfig) -> Lineage:
    commit, dirty = git_commit(config.base_dir)
    test_source = config.data.test
    return Lineage(
        train_fingerprint=fingerprint(config.resolve(config.data.train)),
        test_fingerprint=fingerprint(config.resolve(test_source)) if test_source else None,
        config_hash=config_hash(config),
        git_commit=commit,
        git_dirty=dirty,
        seed=config.seed,
        packages=package_versions(),
    )


def validate_data(
    config: PipelineConfig, data: Data, out: Path
) -> tuple[Schema, dict[str, ValidationReport], dict[str, str]]:
    """Every data file checked against the schema (the config's, or one inferred and saved)."""
    schema, path = _schema(config, data.train_pl, out)
    reports = {"train": validate(data.train_pl, schema, source=config.data.train)}
    if data.test_pl is not None:
        reports["test"] = validate(data.test_pl, schema, source=config.data.test)
    return schema, reports, {"schema": str(path)}


def _schema(config: PipelineConfig, train: Any, out: Path) -> tuple[Schema, Path]:
    path = out / "schema.yaml"
    if config.schema_file:
        schema = load_schema(config.resolve(config.schema_file))
        schema.save(path, f"Schema used for this run, from {config.schema_file}.")
    else:
        schema = infer_schema(train)
        schema.save(path, inference_header(config.data.train, train.height, train.width))
    return schema, path


def violations(reports: dict[str, ValidationReport]) -> list[str]:
    return [
        f"{part} data: {v.column + ': ' if v.column else ''}{v.message}"
        for part, report in reports.items()
        for v in report.violations
    ]


def prepare(
    config: PipelineConfig, estimator: Any, data: Data, schema: Schema, apply_gates: bool
) -> Prepared:
    """The task, the features, and the train and test rows, after every check of them."""
    target, train_source = config.data.target, config.data.train
    train, test = data.train, data.test
    check_target(train, target, None, source=train_source)
    task = decide_task(config, estimator, train[target])
    check_target(train, target, task, source=train_source)
    if apply_gates:
        check_gate_metrics(config.gates, task, file=config.source)
    features = feature_columns(config, train, train_source)
    check_usable(train, features, train_source)
    if config.schema_file is None:
        check_text_among_numbers(train, features, train_source)
    if test is None:
        train, test = split_holdout(train, target, config.data.holdout, task, source=train_source)
        evaluated_on = train_source
    else:
        evaluated_on = str(config.data.test)
        check_target(test, target, None, source=evaluated_on)
        missing = [f for f in features if f not in test.columns]
        if missing:
            raise DataError(
                "test data lacks feature column(s): "
                f"{', '.join(column(f, quoted=False) for f in missing)}.",
                source=config.data.test,
                fix="Give the test file the same columns as the training file.",
            )
    check_slices(config, test, evaluated_on)
    kinds = feature_kinds(train, features, schema)
    X_train = prepare_features(train, kinds, source=train_source)
    X_test = prepare_features(test, kinds, source=evaluated_on)
    return Prepared(task, features, kinds, train, test, evaluated_on, X_train, X_test)
