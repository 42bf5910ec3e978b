"""Drift between a reference and current data: per column, corrected, then for the dataset."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, computed_field

from mlgate.config.monitor import DriftConfig
from mlgate.drift.profile import Profile, sample_of
from mlgate.drift.stattests import (
    CategoricalSample,
    NumericSample,
    TestOutcome,
    get_test,
)
from mlgate.errors import DataError

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "benjamini_hochberg",
    "compare_column",
    "detect",
    "detect_files",
    "sample_values",
]

Sample = NumericSample | CategoricalSample


class ColumnDrift(BaseModel):
    """One column's verdict, with everything needed to read it."""

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float | None = None
    p_adjusted: float | None = Field(None, description="After the multiple-testing correction.")
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_mean: float | None = None
    current_mean: float | None = None
    unseen: list[str] = Field(default_factory=list, description="Categories never seen before.")


class DriftReport(BaseModel):
    """Every column's verdict and the dataset's."""

    columns: list[ColumnDrift]
    share: float = Field(description="Share of columns that drifted.")
    threshold: float = Field(description="Share at which the dataset counts as drifted.")
    prediction: ColumnDrift | None = None
    label: ColumnDrift | None = None
    reference: str = ""
    current: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dataset_drift(self) -> bool:
        """Whether enough columns drifted for the dataset to count as drifted."""
        return bool(self.columns) and self.share >= self.threshold

    @property
    def drifted(self) -> list[ColumnDrift]:
        """The columns that drifted."""
        return [c for c in self.columns if c.drifted]


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


def compare_column(
    column: str, kind: str, reference: Sample, current: Sample, config: DriftConfig
) -> ColumnDrift:
    """One column's drift verdict, before any correction across columns."""
    name = _choose(column, kind, min(reference.count, current.count), config)
    test = get_test(name)
    if test.kind != kind:
        raise DataError(
            f"drift test {name!r} is for {test.kind} columns, but {column!r} is {kind}",
            fix="Choose a test of the right kind under monitor.drift.tests.",
        )
    threshold = config.thresholds.get(
        column, config.alpha if test.uses_p_value else test.default_threshold
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
        test=name,
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


def sample_values(values: Any, kind: str) -> Sample:
    """A column's values as the sample its kind of test takes."""
    if kind == "numeric":
        return NumericSample.of(np.asarray(values, dtype=np.float64))
    import pandas as pd

    counts = pd.Series(values).dropna().astype(str).value_counts()
    return CategoricalSample({str(k): int(v) for k, v in counts.items()})


def _kind(values: Any) -> str:
    import pandas as pd

    series = pd.Series(values)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return "numeric" if numeric else "categorical"


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
    else:
        kinds = kinds or {str(c): _kind(reference[c]) for c in reference.columns}
    missing = [c for c in kinds if c not in current.columns]
    if missing:
        raise DataError(f"the current data lacks column(s) {', '.join(missing)}")

    def referencesample_values(column: str, kind: str) -> Sample:
        if isinstance(reference, Profile):
            return sample_of(reference.columns[column])
        return sample_values(reference[column].to_numpy(), kind)

    def compare(column: str, kind: str) -> ColumnDrift:
        current_sample = sample_values(current[column].to_numpy(), kind)
        return compare_column(
            column, kind, referencesample_values(column, kind), current_sample, config
        )

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy sorts release the GIL
        futures = [pool.submit(compare, c, k) for c, k in kinds.items()]
        columns = [f.result() for f in futures]
    _correct(columns, config)
    report = DriftReport(
        columns=columns,
        share=sum(c.drifted for c in columns) / len(columns) if columns else 0.0,
        threshold=config.share,
    )
    for field, pair in (("prediction", predictions), ("label", labels)):
        if pair is None and isinstance(reference, Profile):
            continue
        if pair is not None:
            ref_values, cur_values = pair
            kind = _kind(ref_values)
            outcome = compare_column(
                field,
                kind,
                sample_values(ref_values, kind),
                sample_values(cur_values, kind),
                config,
            )
            setattr(report, field, outcome)
    return report


def detect_files(
    reference: str | Path,
    current: str | Path,
    *,
    config: DriftConfig | None = None,
    columns: list[str] | None = None,
) -> DriftReport:
    """Drift between two Parquet or CSV files, one column at a time to bound memory.

    Parquet is read column by column, so a 10,000,000-row file needs memory for
    one column of each side, not the whole table.
    """
    from mlgate.data.io import read_arrow, table_format

    config = config or DriftConfig()

    def columns_of(location: str) -> list[str]:
        if table_format(location) == "parquet":
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(location).schema_arrow.names)
        return list(read_arrow(location).column_names)

    ref_cols, cur_cols = columns_of(str(reference)), columns_of(str(current))
    names = columns or [c for c in ref_cols if c in cur_cols]
    missing = [c for c in names if c not in ref_cols or c not in cur_cols]
    if missing:
        raise DataError(f"column(s) not in both files: {', '.join(missing)}")

    def load(location: str, column: str) -> Any:
        if table_format(location) == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(location, columns=[column]).column(0)
        return read_arrow(location).column(column)

    def one(column: str) -> ColumnDrift:
        import pyarrow as pa

        ref_col, cur_col = load(str(reference), column), load(str(current), column)
        numeric = pa.types.is_integer(ref_col.type) or pa.types.is_floating(ref_col.type)
        kind = "numeric" if numeric else "categorical"
        if numeric:
            ref = NumericSample.of(ref_col.to_numpy(zero_copy_only=False))
            cur = NumericSample.of(cur_col.to_numpy(zero_copy_only=False))
            del ref_col, cur_col
            return compare_column(column, kind, ref, cur, config)
        ref_counts = ref_col.value_counts().to_pylist()
        cur_counts = cur_col.value_counts().to_pylist()
        return compare_column(
            column,
            kind,
            CategoricalSample(
                {str(d["values"]): int(d["counts"]) for d in ref_counts if d["values"] is not None}
            ),
            CategoricalSample(
                {str(d["values"]): int(d["counts"]) for d in cur_counts if d["values"] is not None}
            ),
            config,
        )

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
