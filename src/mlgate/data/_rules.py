"""The rules checked with plain polars: each column's presence and type, then the
dataset-level aggregates (missing rates, means, row count, duplicates)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.data.duplicates import repeated_rows
from mlgate.data.report import EXAMPLES, Example, Violation
from mlgate.data.schema import DatasetRules, Schema

if TYPE_CHECKING:
    import polars as pl

__all__ = ["column_rules", "dataset_rules", "examples", "is_numeric"]


def is_numeric(dtype: pl.DataType) -> bool:
    """Whether a polars dtype holds numbers."""
    return dtype.is_numeric()


def _type_ok(series: pl.Series, expected: str) -> tuple[bool, pl.Series | None]:
    """Whether the column holds the expected kind, and if not, a mask of offending values."""
    import polars as pl

    dtype = series.dtype
    if dtype == pl.Null or expected == "string":
        return True, None
    if expected == "float":
        if is_numeric(dtype):
            return True, None
        return False, series.cast(pl.Float64, strict=False).is_null() & series.is_not_null()
    if expected == "int":
        if dtype.is_integer():
            return True, None
        if dtype.is_float():
            finite = series.is_finite().fill_null(False)
            bad = finite & (series != series.floor())
            return not bool(bad.any()), bad
        return False, series.cast(pl.Int64, strict=False).is_null() & series.is_not_null()
    if expected == "bool":
        if dtype == pl.Boolean:
            return True, None
        return False, series.is_not_null()
    if expected == "datetime":
        return dtype.is_temporal(), None if dtype.is_temporal() else series.is_not_null()
    return True, None


def examples(
    frame: pl.DataFrame, column: str, mask: pl.Series | None = None, rows: list[int] | None = None
) -> list[Example]:
    """The first EXAMPLES failing rows of `column`: those `mask` marks, or the given `rows`."""
    series = frame.get_column(column)
    if rows is None:
        assert mask is not None
        rows = mask.arg_true().head(EXAMPLES).to_list()
    return [Example(row=int(r), value=_plain(series[int(r)])) for r in rows[:EXAMPLES]]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value


def column_rules(frame: pl.DataFrame, schema: Schema) -> tuple[list[Violation], list[str]]:
    """Violations of presence and type, and the columns whose values can be checked."""
    violations: list[Violation] = []
    checkable: list[str] = []
    present = set(frame.columns)
    for name, rules in schema.columns.items():
        if name not in present:
            violations.append(
                Violation(
                    column=name,
                    rule="missing_column",
                    message="column is missing",
                    expected="present",
                )
            )
            continue
        series = frame.get_column(name)
        ok, bad = (True, None) if rules.dtype is None else _type_ok(series, rules.dtype)
        if ok:
            checkable.append(name)
            continue
        count = int(bad.sum()) if bad is not None else series.len()
        violations.append(
            Violation(
                column=name,
                rule="dtype",
                message=f"expected {rules.dtype}, found {series.dtype}"
                + (f"; {count} value(s) are not {rules.dtype}" if bad is not None else ""),
                count=count,
                observed=str(series.dtype),
                expected=rules.dtype,
                examples=examples(frame, name, mask=bad) if bad is not None else [],
            )
        )
    if not schema.dataset.allow_extra_columns:
        for name in frame.columns:
            if name not in schema.columns:
                violations.append(
                    Violation(
                        column=name,
                        rule="unexpected_column",
                        message="column is not in the schema",
                        expected="only the schema's columns (or _global.allow_extra_columns)",
                    )
                )
    return violations, checkable


def dataset_rules(frame: pl.DataFrame, schema: Schema, checkable: list[str]) -> list[Violation]:
    import polars as pl

    violations: list[Violation] = []
    rows = frame.height
    present = [c for c in schema.columns if c in frame.columns]
    if rows and present:
        nulls = frame.select(pl.col(present).null_count()).row(0, named=True)
        for name in present:
            rules, missing = schema.columns[name], int(nulls[name])
            rate, limit = missing / rows, schema.columns[name].missing_limit
            if rate > limit:
                violations.append(
                    Violation(
                        column=name,
                        rule="missing_rate",
                        message=f"{rate:.2%} missing ({missing} of {rows}), limit {limit:.2%}"
                        + ("" if rules.nullable else " (nullable: false)"),
                        count=missing,
                        observed=round(rate, 6),
                        expected=limit,
                        examples=examples(frame, name, mask=frame.get_column(name).is_null()),
                    )
                )
    for statistic in ("mean", "std"):
        violations.extend(_moment_rules(frame, schema, checkable, statistic))
    violations.extend(_table_rules(frame, schema))
    return violations


def _moment_rules(
    frame: pl.DataFrame, schema: Schema, checkable: list[str], statistic: str
) -> list[Violation]:
    """Each numeric column's mean (or sample standard deviation) against its bounds,
    over its finite values."""
    bounded = [
        c
        for c in checkable
        if (
            getattr(schema.columns[c], f"{statistic}_min") is not None
            or getattr(schema.columns[c], f"{statistic}_max") is not None
        )
        and is_numeric(frame.get_column(c).dtype)
    ]
    if not bounded or not frame.height:
        return []
    import polars as pl

    finite = pl.col(bounded).filter(pl.col(bounded).is_finite())
    measured = finite.mean() if statistic == "mean" else finite.std(ddof=1)
    values = frame.select(measured).row(0, named=True)
    violations = []
    for name in bounded:
        rules, value = schema.columns[name], values[name]
        low, high = getattr(rules, f"{statistic}_min"), getattr(rules, f"{statistic}_max")
        if value is None or ((low is None or low <= value) and (high is None or value <= high)):
            continue
        violations.append(
            Violation(
                column=name,
                rule=f"{statistic}_out_of_range",
                message=f"{statistic} {value:.6g} outside [{low}, {high}]",
                observed=value,
                expected=[low, high],
            )
        )
    return violations


def row_count_violations(rows: int, rules: DatasetRules) -> list[Violation]:
    """The row_count violation of a table of `rows` rows under `rules`, if any (both
    engines report it alike)."""
    low, high = rules.min_rows, rules.max_rows
    if (low is None or rows >= low) and (high is None or rows <= high):
        return []
    expected = (
        f"at least {low}"
        if high is None
        else f"at most {high}"
        if low is None
        else f"between {low} and {high}"
    )
    return [
        Violation(
            column=None,
            rule="row_count",
            message=f"{rows} rows, expected {expected}",
            observed=rows,
            expected=[low, high],
        )
    ]


def _table_rules(frame: pl.DataFrame, schema: Schema) -> list[Violation]:
    rules, rows, violations = schema.dataset, frame.height, []
    violations.extend(row_count_violations(rows, rules))
    limits = [rules.max_duplicates, rules.max_duplicate_rate]
    if rows and frame.width and any(limit is not None for limit in limits):
        repeated = repeated_rows(frame)
        duplicates = repeated.len()
        allowed = min(
            rules.max_duplicates if rules.max_duplicates is not None else rows,
            int(rules.max_duplicate_rate * rows) if rules.max_duplicate_rate is not None else rows,
        )
        if duplicates > allowed:
            violations.append(
                Violation(
                    column=None,
                    rule="duplicates",
                    message=f"{duplicates} duplicate row(s), at most {allowed} allowed",
                    count=duplicates,
                    observed=duplicates,
                    expected=allowed,
                    examples=[
                        Example(row=r, value=None) for r in repeated.head(EXAMPLES).to_list()
                    ],
                )
            )
    return violations
