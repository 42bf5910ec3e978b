"""Data: reading tables, their fingerprints, schemas, and validation against a schema.

`io` reads CSV and Parquet (local or fsspec URLs); `schema` holds and loads
schemas, `infer` infers them; `validate` checks a table and returns a `report` of
every violation.
"""

from mlgate.data.fingerprint import fingerprint
from mlgate.data.infer import infer_schema
from mlgate.data.io import read_arrow, read_pandas, read_polars
from mlgate.data.report import Example, ValidationReport, Violation
from mlgate.data.schema import ColumnSchema, DatasetRules, Schema, load_schema
from mlgate.data.validate import validate, validate_file

__all__ = [
    "ColumnSchema",
    "DatasetRules",
    "Example",
    "Schema",
    "ValidationReport",
    "Violation",
    "fingerprint",
    "infer_schema",
    "load_schema",
    "read_arrow",
    "read_pandas",
    "read_polars",
    "validate",
    "validate_file",
]
