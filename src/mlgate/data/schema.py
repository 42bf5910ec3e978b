"""The data schema: what each column may hold, inferred from data and edited by people."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlgate._version import __version__
from mlgate.data.duplicates import repeated_rows
from mlgate.errors import DataError, SchemaError

if TYPE_CHECKING:
    import pandas as pd
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


def _number(value: Any) -> Any:
    """A bound as written, if it is a number (pydantic would also take "5" or true)."""
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if math.isnan(value):
        raise ValueError("must be a number, not NaN")
    return value


def _values(value: Any) -> Any:
    """Categories as written, if they are a list of plain values."""
    if value is None:
        return value
    if not isinstance(value, list):
        raise ValueError("must be a list of the allowed values, e.g. [red, green]")
    for item in value:
        if not isinstance(item, str | int | float):
            raise ValueError(f"must hold only text, numbers or true/false; one is {item!r}")
    return value


Bound = Annotated[int | float | None, BeforeValidator(_number)]


class ColumnSchema(BaseModel):
    """The rules for one column."""

    model_config = ConfigDict(extra="forbid")

    dtype: Dtype | None = Field(None, description="int, float, bool, string or datetime.")
    min: Bound = Field(None, description="Smallest allowed value (numeric columns).")
    max: Bound = Field(None, description="Largest allowed value (numeric columns).")
    categories: Annotated[list[str | bool | int | float] | None, BeforeValidator(_values)] = Field(
        None, description="The only values allowed, for categorical columns."
    )
    nullable: bool = Field(True, description="Whether missing values are allowed at all.")
    max_missing_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="Largest allowed share of missing values."
    )
    allow_inf: bool = Field(False, description="Whether +inf and -inf are allowed.")
    mean_min: Bound = Field(None, description="Smallest allowed column mean.")
    mean_max: Bound = Field(None, description="Largest allowed column mean.")
    std_min: Bound = Field(
        None, description="Smallest allowed standard deviation (sample, n - 1, as pandas')."
    )
    std_max: Bound = Field(
        None, description="Largest allowed standard deviation (sample, n - 1, as pandas')."
    )

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict | ColumnSchema):
            raise ValueError("must be a mapping of rules, e.g. {dtype: float, min: 0}")
        return data

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
        for what in ("mean", "std"):
            low, high = getattr(self, f"{what}_min"), getattr(self, f"{what}_max")
            if low is not None and high is not None and low > high:
                raise ValueError(f"{what}_min ({low}) is greater than {what}_max ({high})")
        if self.std_min is not None and self.std_min < 0:
            raise ValueError(f"std_min ({self.std_min}) is negative: a deviation never is")
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

    @model_validator(mode="after")
    def _rows(self) -> DatasetRules:
        low, high = self.min_rows, self.max_rows
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_rows ({low}) is greater than max_rows ({high})")
        return self


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


_WRITE_ONE = "Write one with `mlgate schema infer DATA -o schema.yaml`."


def load_schema(path: str | Path) -> Schema:
    """The schema in a YAML file, in mlgate's form or the chapter's flat one.

    mlgate's form has `columns:` (name to rules) and `_global:`; the flat form puts
    the column names at the top level beside `_global:`, with that form's defaults
    where a rule is not written (at most 5% missing a column, no duplicate row).
    Anything malformed is one SchemaError that names every bad field.
    """
    from mlgate.config.loader import read_yaml, validation_to_config_error

    path = Path(path)
    raw = read_yaml(path, what="schema", error=SchemaError)
    if raw is None or raw == {}:
        raise SchemaError("the schema file is empty.", file=path, fix=_WRITE_ONE)
    if not isinstance(raw, dict):
        raise SchemaError(
            "expected a mapping of column names to their rules (or `columns:` and "
            f"`_global:`), got a {'list' if isinstance(raw, list) else 'single value'}.",
            file=path,
            fix=_WRITE_ONE,
        )
    if {"name", "data", "model"} <= raw.keys():
        raise SchemaError(
            "this is a pipeline config (mlgate.yaml), not a schema.",
            file=path,
            fix="Pass the schema file its `schema:` key names, or "
            + _WRITE_ONE[0].lower()
            + _WRITE_ONE[1:],
        )
    flat = "columns" not in raw
    columns = {k: v for k, v in raw.items() if k != "_global"} if flat else raw["columns"]
    if isinstance(columns, dict):
        # `2020:` is a column named "2020" and a bare `age:` a column with no rules yet.
        columns = {_column_name(k): {} if v is None else v for k, v in columns.items()}
    shaped = {k: v for k, v in raw.items() if not flat and k != "columns"} | {"columns": columns}
    if flat and "_global" in raw:
        shaped["_global"] = raw["_global"]
    if flat:
        shaped = _flat_defaults(shaped)
    try:
        return Schema.model_validate(shaped)
    except ValidationError as e:
        strip = ("columns",) if flat else ()
        raise validation_to_config_error(
            e, Schema, file=path, raw=raw, strip=strip, kind=SchemaError
        ) from e


#: The flat form's defaults, as the chapter's validator applies them: a column may miss
#: at most 5% of its values, and the table may repeat no row.
FLAT_MAX_MISSING_RATE, FLAT_MAX_DUPLICATES = 0.05, 0


def _flat_defaults(shaped: dict[str, Any]) -> dict[str, Any]:
    """The flat form with its defaults filled in where a rule is not written."""
    columns = shaped["columns"]
    if isinstance(columns, dict):
        shaped["columns"] = {
            name: rules | {"max_missing_rate": FLAT_MAX_MISSING_RATE}
            if isinstance(rules, dict) and not {"max_missing_rate", "nullable"} & rules.keys()
            else rules
            for name, rules in columns.items()
        }
    table = shaped.get("_global")
    table = {} if table is None else table
    if isinstance(table, dict) and not {"max_duplicates", "max_duplicate_rate"} & table.keys():
        shaped["_global"] = table | {"max_duplicates": FLAT_MAX_DUPLICATES}
    return shaped


def _column_name(key: Any) -> Any:
    return str(key) if isinstance(key, int | float) and not isinstance(key, bool) else key


def _nice(value: float, step: float, direction: Literal["down", "up"]) -> float:
    """`value` moved down (or up) to a multiple of `step`, a power of ten: a round bound."""
    down = direction == "down"
    rounded = (math.floor if down else math.ceil)(value / step) * step
    # Round away the float noise of the product at the step's own precision, and never
    # end up on the wrong side of `value` (a tiny step, or a product off by one ulp).
    rounded = round(rounded, max(0, -math.floor(math.log10(step))))
    if not math.isfinite(rounded) or (rounded > value if down else rounded < value):
        return float(value)
    return float(rounded)


def _round_up(value: float, digits: int) -> float:
    scale = 10**digits
    rounded: float = math.ceil(value * scale - 1e-9) / scale
    return min(1.0, rounded)


#: How many of the gaps between an extreme and the value a few places in (3 to 10, a
#: twentieth of the rows) a bound reaches past the extreme.
_REACH = 6


def _numeric_bounds(series: pl.Series) -> tuple[float, float] | None:
    """A range that holds the column and, with high probability, fresh samples of it."""
    finite = series.filter(series.is_finite()) if series.dtype.is_float() else series
    finite = finite.drop_nulls()
    if finite.len() == 0:
        return None
    inner = inner_rank(finite.len())
    return bounds_from(
        float(finite.min()),  # type: ignore[arg-type]
        float(finite.bottom_k(inner + 1).max()),  # type: ignore[arg-type]
        float(finite.top_k(inner + 1).min()),  # type: ignore[arg-type]
        float(finite.max()),  # type: ignore[arg-type]
        integer=series.dtype.is_integer(),
    )


def inner_rank(count: int) -> int:
    """How many places in from each extreme `bounds_from`'s inner values are taken."""
    return min(10, max(3, count // 20), count - 1)


def bounds_from(
    lo: float, near_lo: float, near_hi: float, hi: float, *, integer: bool
) -> tuple[float, float]:
    """The bounds of a column whose finite values run from `lo` to `hi`, with `near_lo`
    and `near_hi` the values `inner_rank` places in from each end.

    A new sample beats the old extreme often (a 25% hold-out does so in one column of
    four), so the bound extrapolates the tail: six gaps between the extreme and the value
    k places in, k a twentieth of the rows within [3, 10]. On held-out quarters (200
    seeds each) of scikit-learn's breast-cancer, wine and diabetes data and the example
    credit data, at most 1.5% of splits then have any column out of range, where 10% of
    the range alone failed 24-80%; the bounds span about 2-3.5 times the observed range.

    An integer column of zeros and ones is an indicator (a binary target, a flag): it
    has no tail to extrapolate, and a 2 in it is an error, so its bounds are 0 and 1.
    """
    if integer and (lo, hi) == (0.0, 1.0):
        return 0.0, 1.0
    span = hi - lo
    below = max(0.1 * span, _REACH * (near_lo - lo), abs(lo) * 0.05 if span == 0 else 0.0)
    above = max(0.1 * span, _REACH * (hi - near_hi), abs(hi) * 0.05 if span == 0 else 0.0)
    # Near the largest float the margins overflow to inf; the bound stays finite.
    low, high = max(lo - below, -_LARGEST), min(hi + above, _LARGEST)
    if lo >= 0 and low < 0:
        low = 0.0
    scale = min(max(abs(high - low), abs(hi), 1e-12), _LARGEST)
    step = 10.0 ** (math.floor(math.log10(scale)) - 2)
    if integer:
        step = max(step, 1.0)
    return _nice(low, step, "down"), _nice(high, step, "up")


_LARGEST = sys.float_info.max


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
    dtype = _dtype_of(series)
    missing = series.null_count() + (int(series.is_nan().sum()) if series.dtype.is_float() else 0)
    bounds = _numeric_bounds(series) if dtype in ("int", "float") else None
    infinite = series.dtype.is_float() and bool(series.is_infinite().any())
    distinct: list[str] | None = None
    if dtype == "string":
        values = series.drop_nulls()
        if values.n_unique() <= MAX_CATEGORIES:
            distinct = [str(v) for v in values.unique().to_list()]
    return column_rules_from(
        dtype, series.len(), missing, bounds=bounds, infinite=infinite, distinct=distinct
    )


def column_rules_from(
    dtype: Dtype | None,
    rows: int,
    missing: int,
    *,
    bounds: tuple[float, float] | None = None,
    infinite: bool = False,
    distinct: list[str] | None = None,
) -> ColumnSchema:
    """A column's inferred rules from what was measured of it: its kind, rows, missing
    values, bounds (`bounds_from`), whether it holds ±inf, and its distinct texts when
    there are at most MAX_CATEGORIES (None when more)."""
    rate = missing / rows if rows else 0.0
    rules: dict[str, Any] = {"dtype": dtype}
    if dtype in ("int", "float"):
        if bounds is not None:
            rules["min"], rules["max"] = bounds
            if dtype == "int":
                rules["min"], rules["max"] = int(rules["min"]), int(rules["max"])
        if infinite:
            rules["allow_inf"] = True
    elif dtype == "string" and distinct is not None:
        present = rows - missing
        if 0 < len(distinct) <= MAX_CATEGORIES and len(distinct) <= max(2, present // 2):
            rules["categories"] = sorted(distinct)
    if missing == 0:
        rules["nullable"] = False
        rules["max_missing_rate"] = 0.0
    else:
        rules["nullable"] = True
        rules["max_missing_rate"] = _round_up(rate * 1.5 + 0.02, 2)
    return ColumnSchema.model_validate(rules)


def dataset_rules_from(rows: int, duplicates: int) -> DatasetRules:
    """The inferred `_global` rules of a table of `rows` rows, `duplicates` of them repeats."""
    dataset = DatasetRules(min_rows=1)
    if duplicates == 0:
        dataset.max_duplicates = 0
    else:
        dataset.max_duplicate_rate = _round_up(duplicates / rows * 1.5 + 0.01, 3)
    return dataset


def infer_schema(frame: pl.DataFrame | pd.DataFrame, *, source: str | None = None) -> Schema:
    """A schema that `frame` satisfies and that fresh samples of the same data satisfy too.

    `source` names the data in the error raised when it has no rows or no columns.
    """
    import polars as pl

    from mlgate.data.io import to_polars

    frame = to_polars(frame)
    if frame.width == 0 or frame.height == 0:
        raise DataError(
            "the data has no columns."
            if frame.width == 0
            else "the data has a header but no rows.",
            source=source,
            fix="A schema is inferred from rows: give a file that has some.",
        )
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    frame = frame.with_columns(pl.col(floats).fill_nan(None)) if floats else frame
    columns = {name: infer_column(frame.get_column(name)) for name in frame.columns}
    dataset = dataset_rules_from(frame.height, repeated_rows(frame).len())
    return Schema(columns=columns, dataset=dataset)


def inference_header(source: str, rows: int, width: int) -> str:
    """The comment that opens an inferred schema file and says how its bounds were set."""
    return (
        f"Schema inferred by mlgate {__version__} from {source} ({rows} rows, {width} columns).\n"
        "Edit freely: every rule is checked by `mlgate validate`.\n"
        "\n"
        "How the bounds were set, so a fresh sample of the same data validates clean:\n"
        "- min/max: the observed range widened on each side by the larger of 10% of the range\n"
        f"  and {_REACH} times the gap between the extreme and the value k places in (k: a\n"
        "  twentieth of the rows, 3 to 10); a column seen only non-negative keeps min >= 0;\n"
        "  an integer column of only 0 and 1 keeps min 0, max 1.\n"
        "- max_missing_rate: observed rate x 1.5 + 0.02 (0 and nullable: false if none missing).\n"
        f"- categories: listed for text columns with at most {MAX_CATEGORIES} distinct values.\n"
        "- _global: max_duplicates 0 when none were seen, else max_duplicate_rate as for missing."
    )
