"""What a drift check finds: each column's verdict, and the dataset's."""

from __future__ import annotations

from pydantic import BaseModel, Field, computed_field

__all__ = ["ColumnDrift", "DriftReport"]


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
    importance: float | None = Field(
        None, description="The model's permutation importance of the column, when known."
    )


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
        """The columns that drifted, those the model leans on most first (by permutation
        importance, when the reference knows it), then by name."""
        return sorted((c for c in self.columns if c.drifted), key=_weight)


def _weight(column: ColumnDrift) -> tuple[float, str]:
    """Sort key: the most important column first; unknown importance last."""
    return (-column.importance if column.importance is not None else float("inf"), column.column)
