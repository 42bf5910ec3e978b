"""The row-level rules (ranges, finiteness, categories), run as one lazy pandera schema on
polars so that every failing row is found in one pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from mlgate.data._rules import examples, is_numeric
from mlgate.data.report import EXAMPLES, Rule, Violation
from mlgate.data.schema import ColumnSchema, Schema

if TYPE_CHECKING:
    import polars as pl

__all__ = ["row_rules"]

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
    import polars as pl

    pa = _pandera()
    checks: list[tuple[Checked, Any]] = []
    numeric = is_numeric(series.dtype)
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


def _pandera() -> Any:
    """pandera's polars API. Importing it imports pyspark when that is installed, which
    warns about the pandas version on every run: a warning about pandera's import, not
    about the user's data, so it is not shown."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet", category=FutureWarning)
        import pandera.polars as pa
    return pa


def row_rules(frame: pl.DataFrame, schema: Schema, checkable: list[str]) -> list[Violation]:
    import polars as pl

    pa = _pandera()

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
        examples=examples(frame, name, rows=rows.head(EXAMPLES).to_list()),
    )
