"""The columns of a scoring run's output, the same from every engine.

- `row_id` (int64): the row's position in the input, from 0 (files in name order);
- the input's id column, when one is named (`--id`), as the input has it;
- `prediction`: the label (a classifier's, typed as its classes are) or the value;
- `probabilities` (list of float64, classifiers): one per class, in the order of the
  Parquet metadata key `mlgate.classes` (the gateway's `probabilities` and `classes`);
- `version`: the registered version that answered;
- `request_id` (with --log): the prediction log's request id of the run's rows, under
  which labels are sent (with the row's `row_id` as its row).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from mlgate.serving.runtime import Prediction, ServedModel

__all__ = ["CLASSES_KEY", "output_batch", "output_schema", "prediction_type"]

#: The output's Parquet metadata key that lists a classifier's classes.
CLASSES_KEY = b"mlgate.classes"


def prediction_type(model: ServedModel) -> pa.DataType:
    """The type of the `prediction` column: float64 for a regressor, the classes' own."""
    import pyarrow as pa

    if model.card.task == "regression":
        return pa.float64()
    classes = model.classes
    if classes:
        kind = pa.array(classes).type
        return pa.int64() if pa.types.is_integer(kind) else kind
    return pa.string()


def output_schema(
    model: ServedModel, id_column: str | None, id_type: pa.DataType | None, *, logged: bool
) -> pa.Schema:
    """The output's schema for `model` (with the id column, and `request_id` when `logged`)."""
    import pyarrow as pa

    fields = [pa.field("row_id", pa.int64(), nullable=False)]
    if id_column is not None and id_type is not None:
        fields.append(pa.field(id_column, id_type))
    fields.append(pa.field("prediction", prediction_type(model)))
    metadata: dict[bytes, bytes] = {}
    if model.card.task == "classification" and model.classes:
        fields.append(pa.field("probabilities", pa.list_(pa.float64())))
        metadata[CLASSES_KEY] = json.dumps([str(c) for c in model.classes]).encode()
    fields.append(pa.field("version", pa.string()))
    if logged:
        fields.append(pa.field("request_id", pa.string()))
    return pa.schema(fields, metadata=metadata or None)


def output_batch(
    schema: pa.Schema,
    model: ServedModel,
    row_ids: list[int],
    ids: Any,
    prediction: Prediction,
    request_id: str | None,
) -> pa.RecordBatch:
    """The output rows of one scored batch."""
    import numpy as np
    import pyarrow as pa

    n = len(row_ids)
    columns: dict[str, Any] = {"row_id": pa.array(row_ids, type=pa.int64())}
    if ids is not None:
        columns[schema.names[1]] = ids
    columns["prediction"] = pa.array(prediction.labels, type=schema.field("prediction").type)
    if "probabilities" in schema.names:
        probabilities = prediction.probabilities
        if probabilities is None:
            columns["probabilities"] = pa.nulls(n, type=pa.list_(pa.float64()))
        else:
            width = probabilities.shape[1]
            flat = pa.array(np.ascontiguousarray(probabilities, dtype=np.float64).reshape(-1))
            offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
            columns["probabilities"] = pa.ListArray.from_arrays(offsets, flat)
    columns["version"] = pa.array([model.version] * n, type=pa.string())
    if request_id is not None:
        columns["request_id"] = pa.array([request_id] * n, type=pa.string())
    return pa.RecordBatch.from_arrays(list(columns.values()), schema=schema)
