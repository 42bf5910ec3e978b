"""`mlgate drift`: a reference (data, profile, run folder or registered model) against data.

When the config names a target and both sides have it, the target is compared
as label drift (`DriftReport.label`), not as one of the features: a shift in
what is being predicted is another question than a shift in the inputs, and it
should not count towards the share of drifted features.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlgate.config.monitor import DriftConfig
from mlgate.data.io import is_folder, read_arrow, read_pandas, table_format
from mlgate.drift.detector import (
    ColumnDrift,
    DriftReport,
    compare_column,
    detect,
    detect_files,
    detect_profiles,
    sample_values,
)
from mlgate.drift.profile import PROFILE, Profile, sample_of
from mlgate.drift.stattests import CategoricalSample, NumericSample
from mlgate.errors import DataError

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["PLOT_ROWS", "check_drift", "plot_samples"]

#: Rows per column drawn in HTML plots (plots of millions of points say nothing more).
PLOT_ROWS = 200_000

TaskName = Literal["auto", "classification", "regression"]


def _is_registry_ref(reference: str) -> bool:
    """`is_registry_ref`, without loading the registry (SQLAlchemy, ~0.5 s) for a plain path."""
    if not (reference.startswith("models:/") or "@" in reference):
        return False
    from mlgate.registry.refs import is_registry_ref

    return is_registry_ref(reference)


def _profile_at(reference: str, project: Project | None) -> Profile | None:
    if _is_registry_ref(reference):
        from mlgate.project import Project

        catalog = (project or Project.open(None)).catalog
        folder = catalog.local_path(catalog.resolve(reference))
        path = folder / PROFILE
    else:
        given = Path(reference)
        if given.suffix == ".json" and not given.is_dir():
            return Profile.load(given)
        if not given.is_dir():
            return None
        path = given / PROFILE
    if not path.exists():
        raise DataError(
            "no reference profile here.",
            source=str(path),
            fix="Pass a data file, a profile.json, or a run folder trained by mlgate 0.1+.",
        )
    return Profile.load(path)


def _label_kind(task: TaskName, reference: Any) -> str:
    """'categorical' for class labels, 'numeric' for a regression target."""
    if task == "auto":
        import pandas as pd

        from mlgate.training.task import infer_task

        task = infer_task(pd.Series(reference))
    return "categorical" if task == "classification" else "numeric"


def _label(
    target: str, reference: Any, current: Any, kind: str, config: DriftConfig
) -> ColumnDrift:
    """The target's drift: `reference` is a sample (from a profile) or the column's values."""
    return compare_column(
        target,
        kind,
        reference
        if isinstance(reference, NumericSample | CategoricalSample)
        else sample_values(reference, kind, column=target),
        sample_values(current, kind, column=target),
        config,
    )


def _features(
    ref_cols: list[str],
    cur_cols: list[str],
    columns: list[str] | None,
    target: str | None,
    drop: list[str],
) -> list[str]:
    """The feature columns to compare: those asked for, else the shared ones; not the target,
    nor a column the model never sees (`drop`)."""
    shared = [c for c in ref_cols if c in cur_cols]
    names = [c for c in columns or shared if c != target and c not in drop]
    if not names:
        besides = f" besides the target {target!r}" if target in ref_cols else ""
        raise DataError(
            f"the two datasets share no column{besides}.",
            fix="Compare data with the same columns.",
        )
    lacks = [
        f"{side} lacks {', '.join(map(repr, absent))}"
        for side, found in (("the reference", ref_cols), ("the current data", cur_cols))
        if (absent := [c for c in names if c not in found])
    ]
    if lacks:
        raise DataError(f"column(s) not in both datasets: {'; '.join(lacks)}.")
    return names


def _against_profile(
    profile: Profile,
    current: str,
    config: DriftConfig,
    columns: list[str] | None,
    target: str | None,
    drop: list[str],
) -> DriftReport:
    frame = read_pandas(current)
    kinds: dict[str, str] = {
        c: p.kind
        for c, p in profile.columns.items()
        if (columns is None or c in columns) and c != target and c not in drop
    }
    report = detect(profile, frame, config=config, kinds=kinds)
    if target is not None and target in frame.columns and profile.label is not None:
        report.label = _label(
            target, sample_of(profile.label), frame[target].to_numpy(), profile.label.kind, config
        )
    return report


def _parquet_files(
    reference: str,
    current: str,
    config: DriftConfig,
    columns: list[str] | None,
    target: str | None,
    task: TaskName,
    drop: list[str],
) -> DriftReport:
    """Two Parquet files, read a column at a time."""
    import pyarrow.parquet as pq

    def names(location: str) -> list[str]:
        try:
            return list(pq.ParquetFile(location).schema_arrow.names)
        except (OSError, ValueError):
            read_arrow(location)  # raises the DataError that says why (missing, damaged)
            raise

    def column(location: str, name: str) -> Any:
        return pq.ParquetFile(location).read(columns=[name]).column(0).to_pandas().to_numpy()

    ref_cols, cur_cols = names(reference), names(current)
    report = detect_files(
        reference,
        current,
        config=config,
        columns=_features(ref_cols, cur_cols, columns, target, drop),
    )
    if target is not None and target in ref_cols and target in cur_cols:
        ref_target = column(reference, target)
        kind = _label_kind(task, ref_target)
        report.label = _label(target, ref_target, column(current, target), kind, config)
    return report


def _data_files(
    reference: str,
    current: str,
    config: DriftConfig,
    columns: list[str] | None,
    target: str | None,
    task: TaskName,
    drop: list[str],
) -> DriftReport:
    ref, cur = read_pandas(reference), read_pandas(current)
    ref_cols, cur_cols = [str(c) for c in ref.columns], [str(c) for c in cur.columns]
    names = _features(ref_cols, cur_cols, columns, target, drop)
    report = detect(ref[names], cur[names], config=config)
    if target is not None and target in ref_cols and target in cur_cols:
        kind = _label_kind(task, ref[target])
        report.label = _label(target, ref[target].to_numpy(), cur[target].to_numpy(), kind, config)
    return report


def check_drift(
    reference: str,
    current: str,
    *,
    config: DriftConfig | None = None,
    project: Project | None = None,
    columns: list[str] | None = None,
    target: str | None = None,
    task: TaskName = "auto",
    drop: list[str] | None = None,
    engine: str = "local",
    spark: Mapping[str, str] | None = None,
    samples: dict[str, tuple[Any, Any]] | None = None,
) -> DriftReport:
    """Drift of the data in `current` against `reference`.

    `target` (the config's `data.target`) is compared as label drift when both
    sides have it, against a profile's labels or the reference data's column;
    `task` says whether it holds class labels or numbers ("auto": from the data).
    `drop` (the config's `data.drop`) names columns the model never sees, left out.
    `engine="spark"` profiles both sides on Spark (`spark`: the spark.* settings of a
    session mlgate starts when none is active) and compares the profiles; `samples`,
    when given, then receives each column's pair of profile samples for plots.
    """
    from mlgate.data.spark import check_engine

    config = config or DriftConfig()
    drop = drop or []
    profile = _profile_at(reference, project)
    if check_engine(engine) == "spark":
        from mlgate.data.spark import reading

        with reading(current, reference):
            report, plotted = spark_drift(
                reference, current, profile, config, columns, target, task, drop, spark
            )
        if samples is not None:
            samples.update(plotted)
    elif profile is not None:
        report = _against_profile(profile, current, config, columns, target, drop)
    elif all(table_format(x) == "parquet" and not is_folder(x) for x in (reference, current)):
        report = _parquet_files(reference, current, config, columns, target, task, drop)
    else:
        report = _data_files(reference, current, config, columns, target, task, drop)
    report.reference, report.current = reference, current
    return report


def spark_drift(
    reference: str,
    current: str,
    profile: Profile | None,
    config: DriftConfig,
    columns: list[str] | None,
    target: str | None,
    task: TaskName,
    drop: list[str],
    settings: Mapping[str, str] | None,
) -> tuple[DriftReport, dict[str, tuple[Any, Any]]]:
    """Drift on Spark: both sides profiled there (the reference unless it is a profile),
    then compared as profiles; and each column's pair of samples, for plots."""
    from mlgate.data.spark import check_location, read_frame, spark_session
    from mlgate.drift.spark_profile import spark_kind, spark_kinds, spark_profile

    for location in [current] if profile is not None else [reference, current]:
        check_location(location)
    session = spark_session(settings)
    cur = read_frame(session, current, typed=True)
    ref = None if profile is not None else read_frame(session, reference, typed=True)
    kinds: dict[str, str]
    label_kind: str | None
    if profile is not None:
        kinds = {
            c: str(p.kind)
            for c, p in profile.columns.items()
            if (columns is None or c in columns) and c != target and c not in drop
        }
        label = profile.label if target is not None and target in cur.columns else None
        label_kind = None if label is None else label.kind
    else:
        assert ref is not None
        names = _features(ref.columns, cur.columns, columns, target, drop)
        kinds = spark_kinds(ref, cur, names)
        label_kind = None
        if target is not None and target in ref.columns and target in cur.columns:
            label_kind = _spark_label_kind(ref, target, task, spark_kind)
    lacking = [c for c in kinds if c not in cur.columns]
    if lacking:
        raise DataError(
            f"the current data lacks column(s) {', '.join(map(repr, lacking))}.",
            fix="Compare data with the reference's columns.",
        )
    wanted = kinds | ({target: label_kind} if target is not None and label_kind else {})
    found = spark_profile(cur, wanted)
    if ref is not None:
        profile = spark_profile(ref, wanted)
        if target is not None and label_kind is not None:
            profile.label = profile.columns.pop(target)
    assert profile is not None
    report = detect_profiles(profile, found, config=config, kinds=kinds)
    if target is not None and label_kind is not None and profile.label is not None:
        report.label = compare_column(
            target,
            label_kind,
            sample_of(profile.label),
            sample_of(found.columns[target]),
            config,
        )
    samples = {
        c.column: (sample_of(profile.columns[c.column]), sample_of(found.columns[c.column]))
        for c in report.columns
    }
    if report.label is not None and profile.label is not None and target is not None:
        samples[target] = (sample_of(profile.label), sample_of(found.columns[target]))
    return report, samples


def _spark_label_kind(frame: Any, target: str, task: TaskName, kind_of: Any) -> str:
    """'categorical' for class labels, 'numeric' for a regression target, as
    `infer_task` tells them when `task` is auto: text, or few whole numbers, is classes."""
    from pyspark.sql import functions as F

    from mlgate.data.spark import column as named
    from mlgate.training.task import MAX_INTEGER_CLASSES

    if task != "auto":
        return "categorical" if task == "classification" else "numeric"
    if kind_of(frame.schema[target].dataType) != "numeric":
        return "categorical"
    value = named(target).cast("double")
    fractional = frame.where(~F.isnan(value) & (value != F.round(value))).limit(1).count()
    if fractional:
        return "numeric"
    few = frame.select(named(target)).where(named(target).isNotNull() & ~F.isnan(value)).distinct()
    return (
        "categorical"
        if few.limit(MAX_INTEGER_CLASSES + 1).count() <= MAX_INTEGER_CLASSES
        else "numeric"
    )


def plot_samples(
    report: DriftReport, reference: str, current: str, *, project: Project | None = None
) -> dict[str, tuple[Any, Any]]:
    """Per-column samples of both sides for the HTML report's plots (at most PLOT_ROWS).

    The label, when the report has one, is drawn too, under its column's name.
    """
    profile = _profile_at(reference, project)
    cur = read_pandas(current)
    ref = None if profile is not None else read_pandas(reference)
    found: dict[str, tuple[Any, Any]] = {}
    for column in report.columns + ([report.label] if report.label is not None else []):
        name = column.column
        if name not in cur.columns:
            continue
        ref_sample: Any
        if profile is not None:
            summary = profile.label if column is report.label else profile.columns.get(name)
            if summary is None:
                continue
            ref_sample = sample_of(summary)
        elif ref is not None and name in ref.columns:
            ref_sample = sample_values(ref[name].to_numpy()[:PLOT_ROWS], column.kind)
        else:
            continue
        cur_sample = sample_values(cur[name].to_numpy()[:PLOT_ROWS], column.kind)
        found[name] = (ref_sample, cur_sample)
    return found
