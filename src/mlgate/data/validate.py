"""Checking a dataset against its schema, reporting every violation at once.

Row-level rules (ranges, categories, finiteness) run as a lazy pandera schema on
polars; dataset-level rules (missing rates, duplicates, row count, means) are
single polars aggregates. Both feed one report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, computed_field

from mlgate.data.duplicates import repeated_rows
from mlgate.data.io import read_polars
from mlgate.data.schema import ColumnSchema, Schema

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["Example", "ValidationReport", "Violation", "to_polars", "validate", "validate_file"]

#: How many failing rows a violation shows.
EXAMPLES = 5

Rule = Literal[
    "missing_column",
    "unexpected_column",
    "dtype",
    "below_min",
    "above_max",
    "not_finite",
    "unknown_category",
    "missing_rate",
    "mean_out_of_range",
    "duplicates",
    "row_count",
]


class Example(BaseModel):
    """One failing row: its 0-based position in the data and the offending value."""

    row: int
    value: Any


class Violation(BaseModel):
    """One broken rule, with how often it broke and a few rows where it did."""

    column: str | None = Field(description="The column, or None for a dataset-level rule.")
    rule: Rule
    message: str
    count: int | None = Field(None, description="How many rows (or values) break the rule.")
    observed: Any = None
    expected: Any = None
    examples: list[Example] = Field(default_factory=list)


class ValidationReport(BaseModel):
    """The verdict on one dataset: every violation found, not only the first."""

    source: str | None = None
    rows: int
    columns: int
    violations: list[Violation] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    def summary(self) -> str:
        """One line: passed, or how many violations in how many columns."""
        if self.passed:
            return f"valid: {self.rows} rows x {self.columns} columns break no rule"
        columns = {v.column for v in self.violations if v.column}
        return (
            f"invalid: {len(self.violations)} violation(s) in {len(columns)} column(s) "
            f"of {self.rows} rows"
        )


def to_polars(frame: pl.DataFrame | pd.DataFrame) -> pl.DataFrame:
    """A polars frame for either kind of input; pandas NaN becomes a missing value."""
    import polars as pl

    if isinstance(frame, pl.DataFrame):
        return frame
    try:
        return pl.from_pandas(frame, nan_to_null=True)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        # A column of mixed Python objects (text and numbers): compare it as text, so
        # that validation reports the values that do not fit instead of failing.
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        text = {c: frame[c].map(lambda v: v if v is None or v != v else str(v)) for c in mixed}
        return pl.from_pandas(frame.assign(**text), nan_to_null=True)


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


def _type_ok(series: pl.Series, expected: str) -> tuple[bool, pl.Series | None]:
    """Whether the column holds the expected kind, and if not, a mask of offending values."""
    import polars as pl

    dtype = series.dtype
    if dtype == pl.Null or expected == "string":
        return True, None
    if expected == "float":
        if _is_numeric(dtype):
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


def _examples(
    frame: pl.DataFrame, column: str, mask: pl.Series | None = None, rows: list[int] | None = None
) -> list[Example]:
    series = frame.get_column(column)
    if rows is None:
        assert mask is not None
        rows = mask.arg_true().head(EXAMPLES).to_list()
    return [Example(row=int(r), value=_plain(series[int(r)])) for r in rows[:EXAMPLES]]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value


#: What one pandera check on a column enforces: "range" covers below_min, above_max and
#: not_finite at once, told apart afterwards by the failing values.
Checked = Literal["range", "unknown_category"]


def _within(column: pl.Expr, rules: ColumnSchema, floats: bool) -> pl.Expr:
    """True where a value keeps to min, max and finiteness; missing values stay missing."""
    import polars as pl

    ok = pl.lit(True)
    if rules.min is not None:
        ok = ok & (column >= rules.min)
    if rules.max is not None:
        ok = ok & (column <= rules.max)
    if floats:  # ±inf is the `not_finite` rule's (or allowed by allow_inf), not a range one
        ok = pl.when(column.is_infinite()).then(pl.lit(rules.allow_inf)).otherwise(ok)
    return ok


def _range_rules(values: pl.Series, rules: ColumnSchema) -> pl.Series:
    """Which range rule each failing value breaks: not_finite, below_min or above_max."""
    import polars as pl

    value = pl.col(values.name)
    below = value < rules.min if rules.min is not None else pl.lit(False)
    rule = pl.when(below).then(pl.lit("below_min")).otherwise(pl.lit("above_max"))
    if values.dtype.is_float():
        rule = pl.when(value.is_infinite()).then(pl.lit("not_finite")).otherwise(rule)
    return values.to_frame().select(rule.alias("rule")).to_series()


def _column_checks(rules: ColumnSchema, series: pl.Series) -> list[tuple[Checked, Any]]:
    """The pandera checks for one column, each with what it enforces.

    One check per column covers min, max and finiteness together: pandera's cost is
    mostly per check (about 4 ms each), so three checks a column cost three times one.
    """
    import pandera.polars as pa
    import polars as pl

    checks: list[tuple[Checked, Any]] = []
    numeric = _is_numeric(series.dtype)
    floats = series.dtype.is_float()
    limited = rules.min is not None or rules.max is not None
    if numeric and (limited or (floats and not rules.allow_inf)):
        within = pa.Check(
            lambda data: data.lazyframe.select(_within(pl.col(data.key), rules, floats))
        )
        checks.append(("range", within))
    if rules.categories is not None:
        allowed = rules.categories
        if not (numeric and all(isinstance(c, int | float) for c in allowed)):
            allowed = [str(c).lower() if isinstance(c, bool) else str(c) for c in allowed]
            known = pa.Check(
                lambda data, allowed=allowed: data.lazyframe.select(
                    pl.col(data.key).cast(pl.String).is_in(allowed)
                )
            )
        else:
            known = pa.Check.isin(allowed)
        checks.append(("unknown_category", known))
    return checks


def _row_rules(frame: pl.DataFrame, schema: Schema, checkable: list[str]) -> list[Violation]:
    import pandera.polars as pa
    import polars as pl

    planned = {
        name: checks
        for name in checkable
        if (checks := _column_checks(schema.columns[name], frame.get_column(name)))
    }
    columns = {
        name: pa.Column(checks=[check for _, check in checks], nullable=True, required=True)
        for name, checks in planned.items()
    }
    if not columns:
        return []
    try:
        pa.DataFrameSchema(columns, strict=False).validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    failed = cases.filter(pl.col("index").is_not_null()).select("column", "check_number", "index")
    violations = []
    for (name, number), group in failed.group_by("column", "check_number", maintain_order=True):
        kind = planned[str(name)][int(number)][0]
        rows = group.get_column("index").cast(pl.UInt32).sort()
        if kind == "unknown_category":
            violations.append(_row_violation(frame, schema, str(name), kind, rows))
            continue
        rules = _range_rules(frame.get_column(str(name)).gather(rows), schema.columns[str(name)])
        for rule in ("below_min", "above_max", "not_finite"):
            broken = rows.filter(rules == rule)
            if broken.len():
                violations.append(_row_violation(frame, schema, str(name), rule, broken))
    return violations


def _row_violation(
    frame: pl.DataFrame, schema: Schema, name: str, rule: Rule, rows: pl.Series
) -> Violation:
    """The violation of a row-level rule by the given rows (0-based, ascending)."""
    rules, count = schema.columns[name], rows.len()
    expected: Any = {
        "below_min": rules.min,
        "above_max": rules.max,
        "not_finite": "finite numbers",
        "unknown_category": rules.categories,
    }.get(rule)
    what = {
        "below_min": f"below min {rules.min}",
        "above_max": f"above max {rules.max}",
        "not_finite": "infinite",
        "unknown_category": "not an allowed category",
    }[rule]
    return Violation(
        column=name,
        rule=rule,
        message=f"{count} value(s) {what}",
        count=count,
        expected=expected,
        examples=_examples(frame, name, rows=rows.head(EXAMPLES).to_list()),
    )


def _columns(frame: pl.DataFrame, schema: Schema) -> tuple[list[Violation], list[str]]:
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
                examples=_examples(frame, name, mask=bad) if bad is not None else [],
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


def _dataset_rules(frame: pl.DataFrame, schema: Schema, checkable: list[str]) -> list[Violation]:
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
                        examples=_examples(frame, name, mask=frame.get_column(name).is_null()),
                    )
                )
    means = [
        c
        for c in checkable
        if (schema.columns[c].mean_min is not None or schema.columns[c].mean_max is not None)
        and _is_numeric(frame.get_column(c).dtype)
    ]
    if means and rows:
        values = frame.select(pl.col(means).filter(pl.col(means).is_finite()).mean()).row(
            0, named=True
        )
        for name in means:
            rules, mean = schema.columns[name], values[name]
            low = rules.mean_min if rules.mean_min is not None else float("-inf")
            high = rules.mean_max if rules.mean_max is not None else float("inf")
            if mean is not None and not low <= mean <= high:
                violations.append(
                    Violation(
                        column=name,
                        rule="mean_out_of_range",
                        message=f"mean {mean:.6g} outside [{rules.mean_min}, {rules.mean_max}]",
                        observed=mean,
                        expected=[rules.mean_min, rules.mean_max],
                    )
                )
    violations.extend(_table_rules(frame, schema))
    return violations


def _table_rules(frame: pl.DataFrame, schema: Schema) -> list[Violation]:
    rules, rows, violations = schema.dataset, frame.height, []
    low, high = rules.min_rows, rules.max_rows
    if (low is not None and rows < low) or (high is not None and rows > high):
        violations.append(
            Violation(
                column=None,
                rule="row_count",
                message=f"{rows} rows, expected "
                + (
                    f"at least {low}"
                    if high is None
                    else f"at most {high}"
                    if low is None
                    else f"between {low} and {high}"
                ),
                observed=rows,
                expected=[low, high],
            )
        )
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


def validate(
    frame: pl.DataFrame | pd.DataFrame, schema: Schema, *, source: str | None = None
) -> ValidationReport:
    """Check `frame` against every rule of `schema` and report all that break."""
    import polars as pl

    data = to_polars(frame)
    floats = [c for c, t in data.schema.items() if t.is_float()]
    if floats:
        data = data.with_columns(pl.col(floats).fill_nan(None))
    violations, checkable = _columns(data, schema)
    violations += _row_rules(data, schema, checkable)
    violations += _dataset_rules(data, schema, checkable)
    return ValidationReport(
        source=source, rows=data.height, columns=data.width, violations=violations
    )


def validate_file(location: str | Path, schema: Schema) -> ValidationReport:
    """Read the table at `location` and check it against `schema`."""
    return validate(read_polars(location), schema, source=str(location))
