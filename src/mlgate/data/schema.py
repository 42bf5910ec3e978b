"""The data schema: what each column may hold, inferred from data and edited by people."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlgate._version import __version__
from mlgate.data.duplicates import repeated_rows
from mlgate.errors import SchemaError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["ColumnSchema", "DatasetRules", "Dtype", "Schema", "infer_schema", "load_schema"]

Dtype = Literal["int", "float", "bool", "string", "datetime"]

_DTYPE_ALIASES: dict[str, Dtype] = {
    "int": "int",
    "int32": "int",
    "int64": "int",
    "integer": "int",
    "float": "float",
    "float32": "float",
    "float64": "float",
    "double": "float",
    "number": "float",
    "numeric": "float",
    "bool": "bool",
    "boolean": "bool",
    "str": "string",
    "string": "string",
    "object": "string",
    "category": "string",
    "categorical": "string",
    "datetime": "datetime",
    "date": "datetime",
    "timestamp": "datetime",
}

#: Most distinct values a text column may have for inference to list them as categories.
MAX_CATEGORIES = 50


class ColumnSchema(BaseModel):
    """The rules for one column."""

    model_config = ConfigDict(extra="forbid")

    dtype: Dtype | None = Field(None, description="int, float, bool, string or datetime.")
    min: int | float | None = Field(None, description="Smallest allowed value (numeric columns).")
    max: int | float | None = Field(None, description="Largest allowed value (numeric columns).")
    categories: list[str | int | bool] | None = Field(
        None, description="The only values allowed, for categorical columns."
    )
    nullable: bool = Field(True, description="Whether missing values are allowed at all.")
    max_missing_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="Largest allowed share of missing values."
    )
    allow_inf: bool = Field(False, description="Whether +inf and -inf are allowed.")
    mean_min: int | float | None = Field(None, description="Smallest allowed column mean.")
    mean_max: int | float | None = Field(None, description="Largest allowed column mean.")

    @field_validator("dtype", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in _DTYPE_ALIASES:
            return _DTYPE_ALIASES[value.lower()]
        return value

    @model_validator(mode="after")
    def _bounds(self) -> ColumnSchema:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    @property
    def missing_limit(self) -> float:
        """The largest share of missing values this column accepts."""
        if not self.nullable:
            return 0.0
        return 1.0 if self.max_missing_rate is None else self.max_missing_rate


class DatasetRules(BaseModel):
    """The rules for the table as a whole (the chapter's `_global`)."""

    model_config = ConfigDict(extra="forbid")

    max_duplicates: int | None = Field(None, ge=0, description="Most duplicate rows allowed.")
    max_duplicate_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="Largest allowed share of duplicate rows."
    )
    min_rows: int | None = Field(None, ge=0, description="Fewest rows allowed.")
    max_rows: int | None = Field(None, ge=0, description="Most rows allowed.")
    allow_extra_columns: bool = Field(
        False, description="Whether columns the schema does not name are allowed."
    )


class Schema(BaseModel):
    """Every column's rules plus the dataset's; `_global` is the dataset part's YAML key."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    columns: dict[str, ColumnSchema]
    dataset: DatasetRules = Field(default_factory=DatasetRules, alias="_global")

    def to_yaml(self, header: str = "") -> str:
        """The schema as YAML a person can read and edit, under an optional comment header."""
        body = {
            "columns": {
                name: {
                    key: value
                    for key, value in column.model_dump(exclude_none=True).items()
                    if key != "allow_inf" or value
                }
                for name, column in self.columns.items()
            },
            "_global": self.dataset.model_dump(exclude_none=True, exclude_defaults=True),
        }
        text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
        comments = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
        return comments + text

    def save(self, path: str | Path, header: str = "") -> Path:
        """Write the schema to `path` as YAML and give the path back."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml(header), encoding="utf-8")
        return path


def load_schema(path: str | Path) -> Schema:
    """The schema in a YAML file, in mlgate's form or the chapter's flat one."""
    from mlgate.config.loader import read_yaml, validation_to_config_error

    path = Path(path)
    raw = read_yaml(path, what="schema")
    if not isinstance(raw, dict) or not raw:
        raise SchemaError(
            "expected a mapping with `columns:` (and optionally `_global:`)",
            file=path,
            fix="Write one with `mlgate schema infer DATA -o schema.yaml`.",
        )
    if "columns" not in raw:  # the chapter's form: column names at the top level
        raw = {"columns": {k: v for k, v in raw.items() if k != "_global"}} | (
            {"_global": raw["_global"]} if "_global" in raw else {}
        )
    try:
        return Schema.model_validate(raw)
    except ValidationError as e:
        raise validation_to_config_error(e, Schema, file=path) from e


def _nice(value: float, step: float, direction: Literal["down", "up"]) -> float:
    rounded = (math.floor if direction == "down" else math.ceil)(value / step) * step
    return float(round(rounded, 10))


def _round_up(value: float, digits: int) -> float:
    scale = 10**digits
    rounded: float = math.ceil(value * scale - 1e-9) / scale
    return min(1.0, rounded)


def _numeric_bounds(series: pl.Series) -> tuple[float, float] | None:
    finite = series.filter(series.is_finite()) if series.dtype.is_float() else series
    finite = finite.drop_nulls()
    if finite.len() == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())  # type: ignore[arg-type]
    q01 = float(finite.quantile(0.01, "nearest"))  # type: ignore[arg-type]
    q99 = float(finite.quantile(0.99, "nearest"))  # type: ignore[arg-type]
    span = hi - lo
    below = max(0.1 * span, 2.0 * (q01 - lo), abs(lo) * 0.05 if span == 0 else 0.0)
    above = max(0.1 * span, 2.0 * (hi - q99), abs(hi) * 0.05 if span == 0 else 0.0)
    low, high = lo - below, hi + above
    if lo >= 0 and low < 0:
        low = 0.0
    scale = max(abs(high - low), abs(hi), 1e-12)
    step = 10 ** (math.floor(math.log10(scale)) - 2)
    if series.dtype.is_integer():
        step = max(step, 1.0)
    return _nice(low, step, "down"), _nice(high, step, "up")


def _dtype_of(series: pl.Series) -> Dtype | None:
    dtype = series.dtype
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype.is_temporal():
        return "datetime"
    name = str(dtype)
    if name == "Boolean":
        return "bool"
    if name in ("String", "Utf8", "Categorical", "Enum"):
        return "string"
    if name == "Null":
        return None
    return "string"


def infer_column(series: pl.Series) -> ColumnSchema:
    """Rules for one column that its own data, and fresh samples like it, satisfy."""
    rows = series.len()
    missing = series.null_count() + (int(series.is_nan().sum()) if series.dtype.is_float() else 0)
    rate = missing / rows if rows else 0.0
    rules: dict[str, Any] = {"dtype": _dtype_of(series)}
    if rules["dtype"] in ("int", "float"):
        bounds = _numeric_bounds(series)
        if bounds is not None:
            rules["min"], rules["max"] = bounds
            if rules["dtype"] == "int":
                rules["min"], rules["max"] = int(rules["min"]), int(rules["max"])
        if series.dtype.is_float() and bool(series.is_infinite().any()):
            rules["allow_inf"] = True
    elif rules["dtype"] == "string":
        values = series.drop_nulls()
        distinct = values.n_unique()
        if 0 < distinct <= MAX_CATEGORIES and distinct <= max(2, values.len() // 2):
            rules["categories"] = sorted(str(v) for v in values.unique().to_list())
    if missing == 0:
        rules["nullable"] = False
        rules["max_missing_rate"] = 0.0
    else:
        rules["nullable"] = True
        rules["max_missing_rate"] = _round_up(rate * 1.5 + 0.02, 2)
    return ColumnSchema.model_validate(rules)


def infer_schema(frame: pl.DataFrame) -> Schema:
    """A schema that `frame` satisfies and that fresh samples of the same data satisfy too."""
    columns = {name: infer_column(frame.get_column(name)) for name in frame.columns}
    rows = frame.height
    duplicates = repeated_rows(frame).len()
    dataset = DatasetRules(min_rows=1)
    if duplicates == 0:
        dataset.max_duplicates = 0
    else:
        dataset.max_duplicate_rate = _round_up(duplicates / rows * 1.5 + 0.01, 3)
    return Schema(columns=columns, dataset=dataset)


def inference_header(source: str, rows: int, width: int) -> str:
    """The comment that opens an inferred schema file and says how its bounds were set."""
    return (
        f"Schema inferred by mlgate {__version__} from {source} ({rows} rows, {width} columns).\n"
        "Edit freely: every rule is checked by `mlgate validate`.\n"
        "\n"
        "How the bounds were set, so a fresh sample of the same data validates clean:\n"
        "- min/max: the observed range widened on each side by the larger of 10% of the range\n"
        "  and twice the gap between the 1st/99th percentile and the extreme; a column seen\n"
        "  only non-negative keeps min >= 0.\n"
        "- max_missing_rate: observed rate x 1.5 + 0.02 (0 and nullable: false if none missing).\n"
        f"- categories: listed for text columns with at most {MAX_CATEGORIES} distinct values.\n"
        "- _global: max_duplicates 0 when none were seen, else max_duplicate_rate as for missing."
    )
