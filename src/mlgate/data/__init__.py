"""Data: reading tables, fingerprints, schemas and validation."""

from mlgate.data.fingerprint import fingerprint
from mlgate.data.io import read_arrow, read_pandas, read_polars
from mlgate.data.schema import ColumnSchema, DatasetRules, Schema, infer_schema, load_schema
from mlgate.data.validate import Example, ValidationReport, Violation, validate, validate_file

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
