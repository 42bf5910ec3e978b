"""Drift between a reference and current data: per column, corrected, then for the dataset.

`detect` compares pandas frames (or a frame against a reference profile);
`detect_files` compares two Parquet or CSV files a column at a time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np

from mlgate.config.monitor import DriftConfig
from mlgate.drift._samples import (
    Sample,
    arrow_counts,
    arrow_kind,
    arrow_numbers,
    kind_of,
    sample_values,
)
from mlgate.drift.profile import Profile, sample_of
from mlgate.drift.result import ColumnDrift, DriftReport
from mlgate.drift.stattests import (
    CategoricalSample,
    NumericSample,
    StatTest,
    TestOutcome,
    available_tests,
    get_test,
)
from mlgate.errors import ConfigError, DataError

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "benjamini_hochberg",
    "compare_column",
    "detect",
    "detect_files",
    "detect_profiles",
    "sample_values",
]


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (step-up, monotone), in the input's order."""
    m = len(p_values)
    if m == 0:
        return []
    order = np.argsort(p_values)
    ranked = np.asarray(p_values, dtype=np.float64)[order] * m / (np.arange(m) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def _choose(column: str, kind: str, smaller: int, config: DriftConfig) -> str:
    if column in config.tests:
        return config.tests[column]
    large = smaller >= config.large_sample
    if kind == "numeric":
        return "wasserstein" if large else "ks"
    return "jensen_shannon" if large else "chi2"


def _test_for(column: str, kind: str, smaller: int, config: DriftConfig) -> StatTest:
    """The test for `column`, checked to exist and to fit the column's kind."""
    name = _choose(column, kind, smaller, config)
    field = f"monitor.drift.tests.{column}"
    try:
        test = get_test(name)
    except ConfigError as e:
        raise ConfigError(
            e.problem, field=field, allowed=e.allowed, fix=e.fix, show_value=False
        ) from e
    if test.kind != kind:
        raise ConfigError(
            f"drift test {name!r} is for {test.kind} columns, but {column!r} is {kind}.",
            field=field,
            allowed=", ".join(t for t in available_tests() if get_test(t).kind == kind),
            fix="Choose a test of the column's kind.",
            show_value=False,
        )
    return test


def compare_column(
    column: str, kind: str, reference: Sample, current: Sample, config: DriftConfig
) -> ColumnDrift:
    """One column's drift verdict, before any correction across columns."""
    test = _test_for(column, kind, min(reference.count, current.count), config)
    # A p-value test's line is the false discovery rate; `thresholds` are for effect sizes.
    threshold = (
        config.alpha if test.uses_p_value else config.thresholds.get(column, test.default_threshold)
    )
    outcome: TestOutcome = test.run(reference, current, threshold)
    unseen: list[str] = []
    ref_mean = cur_mean = None
    if isinstance(reference, CategoricalSample) and isinstance(current, CategoricalSample):
        unseen = sorted(k for k in current.counts if k not in reference.counts)
    elif isinstance(reference, NumericSample) and isinstance(current, NumericSample):
        ref_mean, cur_mean = reference.mean, current.mean
    return ColumnDrift(
        column=column,
        kind=kind,
        test=test.name,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        threshold=threshold,
        drifted=outcome.drifted,
        reference_rows=reference.count,
        current_rows=current.count,
        reference_mean=None if ref_mean is None or np.isnan(ref_mean) else ref_mean,
        current_mean=None if cur_mean is None or np.isnan(cur_mean) else cur_mean,
        unseen=unseen,
    )


def _correct(columns: list[ColumnDrift], config: DriftConfig) -> None:
    tested = [c for c in columns if c.p_value is not None]
    if config.correction == "none":
        for c in tested:
            c.p_adjusted = c.p_value
        return
    adjusted = benjamini_hochberg([c.p_value for c in tested if c.p_value is not None])
    for c, p in zip(tested, adjusted, strict=True):
        c.p_adjusted = p
        c.drifted = p < c.threshold


def detect(
    reference: Profile | Any,
    current: Any,
    *,
    config: DriftConfig | None = None,
    kinds: dict[str, str] | None = None,
    predictions: tuple[Any, Any] | None = None,
    labels: tuple[Any, Any] | None = None,
) -> DriftReport:
    """Drift of `current` (a pandas frame) against a reference profile or frame.

    Columns are those of the profile (or of `kinds`, else the reference frame);
    `predictions` and `labels` are (reference, current) pairs when profiles
    lack them.
    """
    config = config or DriftConfig()
    if isinstance(reference, Profile):
        kinds = kinds or {name: c.kind for name, c in reference.columns.items()}
        absent = [c for c in kinds if c not in reference.columns]
        if absent:
            raise DataError(
                f"the reference profile has no column(s) {', '.join(map(repr, absent))}.",
                fix="Compare only columns the model was trained on.",
            )
        changed = [c for c, k in kinds.items() if reference.columns[c].kind != k]
        if changed:
            raise DataError(
                f"column(s) {', '.join(map(repr, changed))} have another kind in the reference "
                "profile than asked for.",
                fix="Leave out `kinds` to use the profile's.",
            )
    else:
        kinds = kinds or {str(c): kind_of(reference[c]) for c in reference.columns}
        absent = [c for c in kinds if c not in reference.columns]
        if absent:
            raise DataError(f"the reference data lacks column(s) {', '.join(map(repr, absent))}.")
    missing = [c for c in kinds if c not in current.columns]
    if missing:
        raise DataError(
            f"the current data lacks column(s) {', '.join(map(repr, missing))}.",
            fix="Compare data with the reference's columns.",
        )

    def reference_sample(column: str, kind: str) -> Sample:
        if isinstance(reference, Profile):
            return sample_of(reference.columns[column])
        return sample_values(reference[column].to_numpy(), kind, column=column)

    def compare(column: str, kind: str) -> ColumnDrift:
        current_sample = sample_values(current[column].to_numpy(), kind, column=column)
        return compare_column(column, kind, reference_sample(column, kind), current_sample, config)

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy sorts release the GIL
        futures = [pool.submit(compare, c, k) for c, k in kinds.items()]
        columns = [f.result() for f in futures]
    _correct(columns, config)
    if isinstance(reference, Profile):
        for column in columns:
            column.importance = reference.importance.get(column.column)
    report = DriftReport(
        columns=columns,
        share=sum(c.drifted for c in columns) / len(columns) if columns else 0.0,
        threshold=config.share,
    )
    for field, pair in (("prediction", predictions), ("label", labels)):
        if pair is not None:
            ref_values, cur_values = pair
            kind = kind_of(ref_values)
            outcome = compare_column(
                field,
                kind,
                sample_values(ref_values, kind, column=field),
                sample_values(cur_values, kind, column=field),
                config,
            )
            setattr(report, field, outcome)
    return report


def detect_profiles(
    reference: Profile,
    current: Profile,
    *,
    config: DriftConfig | None = None,
    kinds: dict[str, str] | None = None,
) -> DriftReport:
    """Drift between two profiles (each column's summary, as the Spark engine builds them).

    Columns are those of `kinds`, else the reference's; both must have them.
    """
    config = config or DriftConfig()
    kinds = kinds or {name: c.kind for name, c in reference.columns.items()}
    for side, profile in (("reference profile", reference), ("current data", current)):
        absent = [c for c in kinds if c not in profile.columns]
        if absent:
            raise DataError(
                f"the {side} has no column(s) {', '.join(map(repr, absent))}.",
                fix="Compare data with the reference's columns.",
            )
    columns = [
        compare_column(
            name,
            kind,
            sample_of(reference.columns[name]),
            sample_of(current.columns[name]),
            config,
        )
        for name, kind in kinds.items()
    ]
    _correct(columns, config)
    for column in columns:
        column.importance = reference.importance.get(column.column)
    return DriftReport(
        columns=columns,
        share=sum(c.drifted for c in columns) / len(columns) if columns else 0.0,
        threshold=config.share,
    )


def detect_files(
    reference: str | Path,
    current: str | Path,
    *,
    config: DriftConfig | None = None,
    columns: list[str] | None = None,
) -> DriftReport:
    """Drift between two Parquet or CSV files, one column at a time to bound memory.

    Parquet is read column by column, so a 10,000,000-row file needs memory for
    one column of each side, not the whole table. A CSV file or a folder is read once.
    """
    from mlgate.data.io import is_folder, read_arrow, table_format

    config = config or DriftConfig()
    csv_tables: dict[str, Any] = {}
    lock = Lock()

    def csv_table(location: str) -> Any:
        with lock:
            if location not in csv_tables:
                csv_tables[location] = read_arrow(location)
            return csv_tables[location]

    def columns_of(location: str) -> list[str]:
        if table_format(location) == "parquet" and not is_folder(location):
            import pyarrow.parquet as pq

            try:
                return list(pq.ParquetFile(location).schema_arrow.names)
            except (OSError, ValueError):
                read_arrow(location)  # raises the DataError that says why (missing, damaged)
                raise
        return list(csv_table(location).column_names)

    ref_cols, cur_cols = columns_of(str(reference)), columns_of(str(current))
    if columns is None:
        names = [c for c in ref_cols if c in cur_cols]
        if not names:
            raise DataError(
                "the two datasets share no column.",
                source=f"{reference} and {current}",
                fix="Compare data with the same columns.",
            )
    else:
        names = list(columns)
    lacks = [
        f"{side} lacks {', '.join(map(repr, absent))}"
        for side, found in (("the reference", ref_cols), ("the current data", cur_cols))
        if (absent := [c for c in names if c not in found])
    ]
    if lacks:
        raise DataError(f"column(s) not in both files: {'; '.join(lacks)}.")

    def load(location: str, column: str) -> Any:
        if table_format(location) == "parquet" and not is_folder(location):
            import pyarrow.parquet as pq

            # ParquetFile, not read_table: the same column without importing pyarrow.dataset.
            return pq.ParquetFile(location).read(columns=[column]).column(0)
        return csv_table(location).column(column)

    def one(column: str) -> ColumnDrift:
        ref_col, cur_col = load(str(reference), column), load(str(current), column)
        kind = arrow_kind(column, ref_col, cur_col)
        if kind == "numeric":
            ref = NumericSample.of(arrow_numbers(ref_col))
            cur = NumericSample.of(arrow_numbers(cur_col))
            del ref_col, cur_col
            return compare_column(column, kind, ref, cur, config)
        return compare_column(column, kind, arrow_counts(ref_col), arrow_counts(cur_col), config)

    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(one, names))
    _correct(found, config)
    return DriftReport(
        columns=found,
        share=sum(c.drifted for c in found) / len(found) if found else 0.0,
        threshold=config.share,
        reference=str(reference),
        current=str(current),
    )
