"""The data schema: what each column may hold, inferred from data and edited by people.

This module holds the rules and reads them from YAML; `mlgate.data.infer` infers them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

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

from mlgate.errors import SchemaError

__all__ = ["ColumnSchema", "DatasetRules", "Dtype", "Schema", "load_schema"]

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
    from mlgate.config.loader import read_yaml
    from mlgate.config.problems import validation_to_config_error

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
