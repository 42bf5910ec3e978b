"""The Spark engine: the verified model scores each partition on the executors.

The driver verifies the version (`load_ref`: digests checked) and broadcasts its
files; each Python worker builds the `ServedModel` (ONNX Runtime where the
version has an export) once, the first time a partition reaches it, and keeps
it for every later partition. Partitions go through `DataFrame.mapInArrow`
(Spark's `mapInPandas` on Arrow batches: the batch is handed over as Arrow, so
the gateway's checks and the output's columns are the local engine's own code,
with no pandas dtype conversion between them).

Each partition writes its own part file of the output (the local engine's
columns and metadata) in a hidden folder beside OUTPUT, and sends the driver
only its counts, its first refused rows and, with `--log`, its batches encoded
as prediction-log records; the folder takes OUTPUT's name when every partition
is in, so the output appears whole or not at all. With `--strict` every
partition is scored and nothing is written when any row was refused.

`row_id` is the local engine's for Parquet: files in the order of their names,
rows in file order (Spark's hidden `_metadata.file_path` and `row_index`, with
per-file counts taken first). CSV and tables have no row index: their rows are
numbered in Spark's read order (a partition's after the previous partition's);
within a run the output and the prediction log agree on it, and `--id` names a
key that does not depend on how Spark splits the input. Parts are written in
partition order: sort by `row_id` for the input's order.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.spark import column
from mlgate.errors import ArtifactError, ConfigError
from mlgate.scoring.checks import check_batch
from mlgate.scoring.output import output_batch, output_schema
from mlgate.scoring.result import EngineRun, Refusal
from mlgate.scoring.sink import Sink, check_output, is_file_output, unwritable

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from mlgate.registry.refs import LoadedModel
    from mlgate.registry.versions import VersionInfo
    from mlgate.scoring.journal import Journal
    from mlgate.scoring.options import ScoreOptions
    from mlgate.serving.runtime import ServedModel

__all__ = ["check_folder_output", "score_spark"]


def check_folder_output(output: str) -> None:
    """A ConfigError when `output` names a Parquet file: Spark writes a folder."""
    if is_file_output(output):
        raise ConfigError(
            "the spark engine writes a folder of part files, one per partition.",
            field="OUTPUT",
            value=output,
            fix="Name a folder (without .parquet) for OUTPUT.",
        )


#: Each row's file and its position in it (Parquet), from Spark's hidden `_metadata`.
_FILE, _ROW = "__mlgate_file", "__mlgate_row"

#: The columns of a partition's summary rows, beside `row_id` (sent to the driver).
_SUMMARY = ("_rows", "_code", "_feature", "_reason", "_log", "_log_rows")


@dataclass(frozen=True)
class _Shipped:
    """A verified version's files, broadcast to the executors, and how to open them."""

    key: str
    files: dict[str, bytes]
    version: VersionInfo | None
    ref: str
    onnx: bool


#: The models this Python worker has built, by the key of their files.
_MODELS: dict[str, ServedModel] = {}


def _executor_model(shipped: _Shipped) -> ServedModel:
    """The shipped version as a ServedModel, built once per Python worker."""
    model = _MODELS.get(shipped.key)
    if model is not None:
        return model
    from mlgate.registry.bundle import CARD_FILE, load_bundle
    from mlgate.registry.refs import LoadedModel
    from mlgate.serving.runtime import ServedModel

    if _sha256(shipped.files[CARD_FILE]) != shipped.key:
        raise ArtifactError("the model card changed on its way to a Spark executor.")
    folder = Path(tempfile.mkdtemp(prefix="mlgate-model-"))
    for name, data in shipped.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    loaded_model, card = load_bundle(folder)  # every file's sha256 checked against the card
    loaded = LoadedModel(shipped.ref, loaded_model, card, folder, shipped.version)
    model = ServedModel.load(loaded, onnx=shipped.onnx)
    _MODELS[shipped.key] = model
    return model


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _ship(loaded: LoadedModel, onnx: bool) -> _Shipped:
    from mlgate.registry.bundle import CARD_FILE

    files = {
        str(path.relative_to(loaded.folder)): path.read_bytes()
        for path in sorted(loaded.folder.rglob("*"))
        if path.is_file()
    }
    return _Shipped(_sha256(files[CARD_FILE]), files, loaded.version, loaded.ref, onnx)


def score_spark(
    spark: SparkSession,
    frame: DataFrame,
    loaded: LoadedModel,
    model: ServedModel,
    output: str,
    options: ScoreOptions,
    *,
    onnx: bool,
    journal: Journal | None,
) -> EngineRun:
    """Score every row of `frame` on Spark into the folder `output`; see `mlgate.scoring`."""
    import fsspec
    import pyarrow as pa
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_type

    check_folder_output(output)
    fs, path = fsspec.core.url_to_fs(output)
    check_output(fs, path, output, overwrite=options.overwrite)
    id_column = options.id_column
    id_type = to_arrow_type(frame.schema[id_column].dataType) if id_column else None
    schema = output_schema(model, id_column, id_type, logged=journal is not None)
    summary = pa.schema(
        [pa.field("row_id", pa.int64(), nullable=False)]
        + [
            pa.field(name, kind)
            for name, kind in zip(
                _SUMMARY,
                (pa.int64(), pa.string(), pa.string(), pa.string(), pa.binary(), pa.int64()),
                strict=True,
            )
        ]
    )
    columns = [*model.features]
    if id_column is not None and id_column not in model.feature_set:
        columns.append(id_column)
    # Plain names for the way through Spark: mapInArrow reads a dot in a name as a field.
    plain = [column(name).alias(f"__mlgate_c{i}") for i, name in enumerate(columns)]
    frame = frame.select(*plain, *_file_rows(frame))
    key = _FILE if _FILE in frame.columns else "p"
    counts = (
        frame.groupBy(F.col(_FILE) if key == _FILE else F.spark_partition_id().alias("p"))
        .count()
        .collect()
    )
    sizes = {row[key]: int(row["count"]) for row in counts}
    offsets, first = {}, 0
    for part in sorted(sizes):  # files in the order of their names, as the local engine
        offsets[part] = first
        first += sizes[part]
    staging = f"{path.rstrip('/').rpartition('/')[0] or '.'}/.{path.rstrip('/').rpartition('/')[2]}"
    staging += f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        fs.makedirs(staging, exist_ok=True)
    except OSError as e:
        raise unwritable(output, e) from e
    task = _Task(
        shipped=spark.sparkContext.broadcast(_ship(loaded, onnx)),
        columns=columns,
        features=list(model.features),
        numeric=frozenset(model.numeric),
        id_column=id_column,
        batch_rows=options.batch_rows,
        offsets=offsets,
        staging=fs.unstrip_protocol(staging),
        request_id=None if journal is None else journal.request_id,
        role=None if journal is None else journal.role,
        shown=options.shown,
        schema=schema,
        summary=summary,
    )
    run = EngineRun(rows_read=first)
    try:
        scored = frame.mapInArrow(task, from_arrow_schema(summary))
        for row in scored.toLocalIterator():
            run.rows_scored += row["_rows"] or 0
            if row["_code"] is not None:
                run.codes[row["_code"]] += 1
            if row["_reason"] is not None:
                refusal = Refusal(
                    row_id=row["row_id"],
                    code=row["_code"],
                    feature=row["_feature"],
                    reason=row["_reason"],
                )
                run.refusals.append(refusal)
            if row["_log"] is not None and journal is not None:
                journal.append(bytes(row["_log"]), row["_log_rows"])
        run.refusals = sorted(run.refusals, key=lambda r: r.row_id)[: options.shown]
        run.complete = not (options.strict and run.codes)
        if run.complete:
            if fs.exists(path):  # --overwrite; checked before anything was scored
                fs.rm(path, recursive=True)
            fs.mv(staging, path, recursive=True)
        else:
            run.rows_scored = 0
            fs.rm(staging, recursive=True)
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(staging, recursive=True)
        raise
    return run


def _file_rows(frame: DataFrame) -> list[Any]:
    """The columns that number a Parquet input's rows by file and position, as the
    local engine numbers them; none for CSV or a table (numbered in partition order)."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    wanted = [
        F.col("_metadata.file_path").alias(_FILE),
        F.col("_metadata.row_index").alias(_ROW),
    ]
    try:
        frame.select(*wanted).schema  # noqa: B018 (analysed, not run)
    except AnalysisException:
        return []
    return wanted


@dataclass(frozen=True)
class _Task:
    """What each partition does, pickled to the executors with what it needs."""

    shipped: Any  # Broadcast[_Shipped]
    columns: list[str]  # the input's names of the first columns, renamed for Spark
    features: list[str]
    numeric: frozenset[str]
    id_column: str | None
    batch_rows: int
    offsets: dict[Any, int]
    staging: str
    request_id: str | None
    role: str | None
    shown: int
    schema: pa.Schema
    summary: pa.Schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        from pyspark import TaskContext

        from mlgate.scoring.journal import encode_batch
        from mlgate.scoring.source import column_values

        model = _executor_model(self.shipped.value)
        partition = TaskContext.get().partitionId()  # type: ignore[union-attr]
        first = self.offsets.get(partition, 0)  # without file rows: partitions in order
        sink = Sink(f"{self.staging}/part-{partition:05d}.parquet", self.schema, overwrite=True)
        scored = 0
        refused: list[Refusal] = []
        logs: list[tuple[bytes, int]] = []
        try:
            for renamed in batches:
                names = renamed.schema.names
                whole = renamed.rename_columns(self.columns + names[len(self.columns) :])
                for offset in range(0, whole.num_rows, self.batch_rows):
                    batch = whole.slice(offset, self.batch_rows)
                    if _FILE in batch.schema.names:
                        files = batch.column(_FILE).to_pylist()
                        within = batch.column(_ROW).to_pylist()
                        row_ids = [self.offsets[f] + r for f, r in zip(files, within, strict=True)]
                    else:
                        row_ids = list(range(first, first + batch.num_rows))
                        first += batch.num_rows
                    columns = {
                        name: column_values(batch, name, numeric=name in self.numeric)
                        for name in self.features
                    }
                    checked = check_batch(model, columns, row_ids)
                    refused.extend(checked.refused)
                    if checked.batch is None:
                        continue
                    started = time.perf_counter()
                    prediction = model.predict(checked.batch.columns)
                    seconds = time.perf_counter() - started
                    kept_ids = [row_ids[i] for i in checked.kept]
                    ids: Any = None
                    if self.id_column is not None:
                        ids = batch.column(self.id_column)
                        if len(checked.kept) < batch.num_rows:
                            ids = ids.take(checked.kept)
                    sink.write(
                        output_batch(self.schema, model, kept_ids, ids, prediction, self.request_id)
                    )
                    scored += len(kept_ids)
                    if self.request_id is not None and self.role is not None:
                        line = encode_batch(
                            model,
                            self.role,
                            self.request_id,
                            checked.batch,
                            prediction,
                            kept_ids,
                            seconds,
                        )
                        logs.append((line, len(kept_ids)))
            sink.commit()
        except BaseException:
            sink.abort()
            raise
        rows: list[dict[str, Any]] = [{"row_id": first, "_rows": scored}]
        # Every refusal is counted by its code on the driver; the reasons of the first
        # `shown` of each partition are enough to list the run's first `shown`.
        for number, refusal in enumerate(refused):
            row = {"row_id": refusal.row_id, "_code": refusal.code}
            if number < self.shown:
                row.update(_feature=refusal.feature, _reason=refusal.reason)
            rows.append(row)
        rows += [{"row_id": first, "_log": line, "_log_rows": n} for line, n in logs]
        yield pa.RecordBatch.from_pylist(
            [{name: row.get(name) for name in self.summary.names} for row in rows],
            schema=self.summary,
        )
