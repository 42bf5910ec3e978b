"""Validation on Spark: the local engine's rules and report, computed where the data is.

Every count (wrong types, out-of-range values, unknown categories, missing
values), mean and standard deviation comes from one Spark aggregation over the
whole table; duplicates from a grouping by each row's digest (`spark_duplicates`).
Only the counts and, for each broken rule, its first few rows (`EXAMPLES`, found
with an ordered limit) reach the driver, never the rows themselves. The violations
are the local engine's (`mlgate.data.validate`), row numbers included
(`mlgate.data.spark.numbered`, one more job, only when a rule is broken).

pandera's PySpark backend reports whether a check failed but neither how many
rows failed it nor which, which the report needs, so the checks are Spark
expressions of the same rules as the local engine's pandera checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.data import disclosure
from mlgate.data._rules import row_count_violations
from mlgate.data.report import EXAMPLES, Example, Rule, ValidationReport, Violation
from mlgate.data.schema import ColumnSchema, Schema
from mlgate.data.spark import column as named
from mlgate.data.spark_duplicates import count_duplicates

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["validate_spark"]


@dataclass
class _Planned:
    """One rule whose failing rows are counted in the aggregation."""

    column: str
    rule: Rule
    failing: Column


def _kind(data_type: Any) -> str:
    """numeric, float, bool, temporal, text, null or other for a Spark column type."""
    from pyspark.sql import types as T

    if isinstance(data_type, T.FloatType | T.DoubleType):
        return "float"
    if isinstance(data_type, T.NumericType):
        return "numeric"
    if isinstance(data_type, T.BooleanType):
        return "bool"
    if isinstance(data_type, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "temporal"
    if isinstance(data_type, T.NullType):
        return "null"
    return "text" if isinstance(data_type, T.StringType) else "other"


def _integral(data_type: Any) -> bool:
    from pyspark.sql import types as T

    return isinstance(data_type, T.ByteType | T.ShortType | T.IntegerType | T.LongType)


def polars_name(data_type: Any) -> str:
    """The name the local engine gives a column of this Spark type (polars' dtype)."""
    import polars as pl
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    try:
        arrow = to_arrow_type(data_type)
    except Exception:  # a type Arrow has no form of: Spark's own name
        return str(data_type.simpleString())
    return str(pl.from_arrow(pa.array([], type=arrow)).dtype)  # type: ignore[union-attr]


def _wrong_type(name: str, data_type: Any, expected: str) -> tuple[Column, bool] | None:
    """True for each value that is not of the expected kind, and whether the column fails
    its type even with no such value; None when the column is of the kind.

    The local engine's `_type_ok`: text is a number when it parses as one, and a
    float column holds ints when its finite values are whole (the one case a column
    passes by its values rather than its type).
    """
    from pyspark.sql import functions as F

    column, kind = named(name), _kind(data_type)
    quoted = "`" + name.replace("`", "``") + "`"
    if kind == "null" or expected == "string":
        return None
    if expected == "float":
        if kind in ("float", "numeric"):
            return None
        return F.expr(f"try_cast({quoted} AS DOUBLE)").isNull() & column.isNotNull(), True
    if expected == "int":
        if _integral(data_type):
            return None
        if kind == "float":
            return _finite(column) & (column != F.floor(column)), False
        if kind == "text":
            return column.isNotNull() & ~column.rlike(r"^[+-]?[0-9]+$"), True
        return F.expr(f"try_cast({quoted} AS BIGINT)").isNull() & column.isNotNull(), True
    if expected == "bool":
        return None if kind == "bool" else (column.isNotNull(), True)
    if expected == "datetime":
        return None if kind == "temporal" else (column.isNotNull(), True)
    return None


def _finite(column: Column) -> Column:
    return column.isNotNull() & ~column.isin(float("inf"), float("-inf"))


def _infinite(column: Column) -> Column:
    return column.isin(float("inf"), float("-inf"))


def _row_checks(name: str, data_type: Any, rules: ColumnSchema) -> list[_Planned]:
    """The row-level rules of one checkable column, as the local engine plans them."""
    from pyspark.sql import functions as F

    column, kind = named(name), _kind(data_type)
    numeric, floats = kind in ("numeric", "float"), kind == "float"
    planned: list[_Planned] = []
    limited = rules.min is not None or rules.max is not None
    if numeric and (limited or (floats and not rules.allow_inf)):
        plain = column.isNotNull() & ~_infinite(column) if floats else column.isNotNull()
        if rules.min is not None:
            planned.append(_Planned(name, "below_min", plain & (column < rules.min)))
        if rules.max is not None:
            low = column >= rules.min if rules.min is not None else F.lit(True)
            planned.append(_Planned(name, "above_max", plain & low & (column > rules.max)))
        if floats and not rules.allow_inf:
            planned.append(_Planned(name, "not_finite", _infinite(column)))
    if rules.categories is not None:
        allowed: list[Any] = list(rules.categories)
        if numeric and all(isinstance(c, int | float) for c in allowed):
            known = column.isin(*allowed)
        else:
            text = [str(c).lower() if isinstance(c, bool) else str(c) for c in allowed]
            known = column.cast("string").isin(*text)
        planned.append(_Planned(name, "unknown_category", column.isNotNull() & ~known))
    return planned


class _Examples:
    """The failing rows each broken rule shows, all found by one Spark job at the end.

    Each broken rule's violation asks for its first EXAMPLES rows (by position) with
    `want`; `fetch` then sets every such violation's examples.
    """

    def __init__(self, frame: DataFrame, types: dict[str, Any]) -> None:
        self.frame, self.types = frame, types
        self.wanted: list[tuple[Column, str | None, Violation]] = []
        self._numbered: DataFrame | None = None

    def numbered(self) -> DataFrame:
        """The frame with each row's position, numbered (one Spark job) when first asked:
        data that breaks no rule is never numbered."""
        from mlgate.data.spark import numbered

        if self._numbered is None:
            self._numbered, _ = numbered(self.frame)
        return self._numbered

    def want(self, violation: Violation, failing: Column) -> Violation:
        self.wanted.append((failing, violation.column, violation))
        return violation

    def fetch(self) -> None:
        from functools import reduce

        from pyspark.sql import functions as F

        from mlgate.data.spark import ROW

        if not self.wanted:
            return
        shown = sorted({c for _, c, _ in self.wanted if c is not None})
        slots = {name: f"v{i}" for i, name in enumerate(shown)}
        frame = self.numbered()
        parts = [
            frame.where(failing)
            .select(
                F.lit(number).alias("k"),
                F.col(ROW),
                *[
                    (named(name) if name == column else F.lit(None).cast(self.types[name])).alias(
                        slot
                    )
                    for name, slot in slots.items()
                ],
            )
            .orderBy(ROW)
            .limit(EXAMPLES)
            for number, (failing, column, _) in enumerate(self.wanted)
        ]
        found: dict[int, list[Example]] = {}
        for row in reduce(lambda a, b: a.unionAll(b), parts).collect():
            column = self.wanted[row["k"]][1]
            value = row[slots[column]] if column is not None else None
            found.setdefault(row["k"], []).append(Example(row=int(row[ROW]), value=_plain(value)))
        for number, (_, _, violation) in enumerate(self.wanted):
            violation.examples = sorted(found.get(number, []), key=lambda e: e.row)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value


def validate_spark(
    frame: DataFrame, schema: Schema, *, source: str | None = None
) -> ValidationReport:
    """Check a Spark DataFrame against every rule of `schema` and report all that break."""
    from pyspark.sql import functions as F

    types = {f.name: f.dataType for f in frame.schema.fields}
    width = len(types)
    # NaN is a missing value, as the local engine reads it.
    frame = frame.select(
        *[
            F.when(F.isnan(named(n)), F.lit(None)).otherwise(named(n)).alias(n)
            if _kind(t) == "float"
            else named(n)
            for n, t in types.items()
        ]
    )
    examples = _Examples(frame, types)
    present = [c for c in schema.columns if c in types]
    wrong = {
        name: check
        for name in present
        if (dtype := schema.columns[name].dtype) is not None
        and (check := _wrong_type(name, types[name], dtype)) is not None
    }
    planned = [p for name in present for p in _row_checks(name, types[name], schema.columns[name])]
    moments = [
        (name, statistic)
        for name in present
        for statistic in ("mean", "std")
        if _kind(types[name]) in ("numeric", "float")
        and (
            getattr(schema.columns[name], f"{statistic}_min") is not None
            or getattr(schema.columns[name], f"{statistic}_max") is not None
        )
    ]
    aggregates = (
        [F.count(F.lit(1)).alias("rows")]
        + [F.count_if(e).alias(f"t{i}") for i, (e, _) in enumerate(wrong.values())]
        + [F.count_if(p.failing).alias(f"r{i}") for i, p in enumerate(planned)]
        + [F.count_if(named(n).isNull()).alias(f"n{i}") for i, n in enumerate(present)]
        + [
            (F.avg if s == "mean" else F.stddev_samp)(
                F.when(_finite(named(n)), named(n).cast("double"))
            ).alias(f"m{i}")
            for i, (n, s) in enumerate(moments)
        ]
    )
    found = frame.agg(*aggregates).collect()[0].asDict()
    rows = int(found["rows"])
    counts = {name: int(found.get(f"t{i}") or 0) for i, name in enumerate(wrong)}
    violations = _column_violations(examples, schema, types, wrong, counts)
    # A float column that should hold ints but holds only whole values passes its type.
    checkable = [n for n in present if n not in wrong or not (wrong[n][1] or counts[n])]
    for i, p in enumerate(planned):
        count = int(found.get(f"r{i}") or 0)
        if count and p.column in checkable:
            violations.append(_row_violation(examples, schema, p, count))
    violations += _missing(examples, schema, present, found, rows)
    for statistic in ("mean", "std"):
        for i, (name, s) in enumerate(moments):
            if s == statistic and name in checkable:
                violations += _moment(schema.columns[name], name, s, found.get(f"m{i}"))
    violations += _table(examples, schema, rows, list(types))
    examples.fetch()
    report = ValidationReport(source=source, rows=rows, columns=width, violations=violations)
    return disclosure.report(report)


def _column_violations(
    examples: _Examples,
    schema: Schema,
    types: dict[str, Any],
    wrong: dict[str, tuple[Column, bool]],
    counts: dict[str, int],
) -> list[Violation]:
    """Missing columns, wrong types and unexpected columns, in the local engine's order."""
    violations: list[Violation] = []
    for name, rules in schema.columns.items():
        if name not in types:
            violations.append(
                Violation(
                    column=name,
                    rule="missing_column",
                    message="column is missing",
                    expected="present",
                )
            )
            continue
        count = counts.get(name, 0)
        if name not in wrong or not (wrong[name][1] or count):
            continue
        found = polars_name(types[name])
        violation = Violation(
            column=name,
            rule="dtype",
            message=f"expected {rules.dtype}, found {found}; "
            f"{count} value(s) are not {rules.dtype}",
            count=count,
            observed=found,
            expected=rules.dtype,
        )
        violations.append(examples.want(violation, wrong[name][0]) if count else violation)
    if not schema.dataset.allow_extra_columns:
        violations += [
            Violation(
                column=name,
                rule="unexpected_column",
                message="column is not in the schema",
                expected="only the schema's columns (or _global.allow_extra_columns)",
            )
            for name in types
            if name not in schema.columns
        ]
    return violations


def _row_violation(examples: _Examples, schema: Schema, planned: _Planned, count: int) -> Violation:
    rules = schema.columns[planned.column]
    expected: Any = {
        "below_min": rules.min,
        "above_max": rules.max,
        "not_finite": "finite numbers",
        "unknown_category": rules.categories,
    }.get(planned.rule)
    what = {
        "below_min": f"below min {rules.min}",
        "above_max": f"above max {rules.max}",
        "not_finite": "infinite",
        "unknown_category": "not an allowed category",
    }[planned.rule]
    violation = Violation(
        column=planned.column,
        rule=planned.rule,
        message=f"{count} value(s) {what}",
        count=count,
        expected=expected,
    )
    return examples.want(violation, planned.failing)


def _missing(
    examples: _Examples, schema: Schema, present: list[str], found: dict[str, Any], rows: int
) -> list[Violation]:

    violations = []
    for i, name in enumerate(present):
        if not rows:
            break
        rules, missing = schema.columns[name], int(found.get(f"n{i}") or 0)
        rate, limit = missing / rows, rules.missing_limit
        if rate > limit:
            violation = Violation(
                column=name,
                rule="missing_rate",
                message=f"{rate:.2%} missing ({missing} of {rows}), limit {limit:.2%}"
                + ("" if rules.nullable else " (nullable: false)"),
                count=missing,
                observed=round(rate, 6),
                expected=limit,
            )
            violations.append(examples.want(violation, named(name).isNull()))
    return violations


def _moment(rules: ColumnSchema, name: str, statistic: str, value: Any) -> list[Violation]:
    low, high = getattr(rules, f"{statistic}_min"), getattr(rules, f"{statistic}_max")
    if value is None or value != value:
        return []
    if (low is None or low <= value) and (high is None or value <= high):
        return []
    return [
        Violation(
            column=name,
            rule="mean_out_of_range" if statistic == "mean" else "std_out_of_range",
            message=f"{statistic} {value:.6g} outside [{low}, {high}]",
            observed=value,
            expected=[low, high],
        )
    ]


def _table(examples: _Examples, schema: Schema, rows: int, columns: list[str]) -> list[Violation]:
    """Row count and duplicate rows: a row equal to an earlier one, missing values alike."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from mlgate.data.spark import ROW

    rules, violations = schema.dataset, []
    violations.extend(row_count_violations(rows, rules))
    limits = [rules.max_duplicates, rules.max_duplicate_rate]
    if rows < 2 or not columns or all(limit is None for limit in limits):
        return violations
    duplicates = count_duplicates(examples.frame, columns)
    allowed = min(
        rules.max_duplicates if rules.max_duplicates is not None else rows,
        int(rules.max_duplicate_rate * rows) if rules.max_duplicate_rate is not None else rows,
    )
    if duplicates > allowed:
        order = F.row_number().over(Window.partitionBy(*[named(c) for c in columns]).orderBy(ROW))
        later = examples.numbered().select(F.col(ROW), order.alias("n")).where(F.col("n") > 1)
        first = later.orderBy(ROW).limit(EXAMPLES).collect()
        violations.append(
            Violation(
                column=None,
                rule="duplicates",
                message=f"{duplicates} duplicate row(s), at most {allowed} allowed",
                count=duplicates,
                observed=duplicates,
                expected=allowed,
                examples=[Example(row=int(r[0]), value=None) for r in first],
            )
        )
    return violations
