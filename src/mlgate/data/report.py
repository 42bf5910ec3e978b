"""The validation report: every broken rule, how often it broke, and a few rows where it did."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

__all__ = ["EXAMPLES", "Example", "Rule", "ValidationReport", "Violation"]

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
    "std_out_of_range",
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
