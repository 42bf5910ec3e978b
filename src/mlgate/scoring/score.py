"""`score`: a registered version (or a run folder) over a dataset, into Parquet.

The model is loaded as the gateway loads it (`load_ref`, digests checked, then
`ServedModel`: ONNX Runtime where the version has an export), and every row goes
through the gateway's input checks; a refused row is skipped with its reason,
or with `strict` the run stops there and writes nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from mlgate.data.spark import (
    ENGINES,
    check_engine,
    check_location,
    read_frame,
    reading,
    spark_session,
)
from mlgate.errors import ConfigError
from mlgate.registry.refs import is_registry_ref, load_ref
from mlgate.scoring.journal import Journal
from mlgate.scoring.local import Progress, score_local
from mlgate.scoring.options import ScoreOptions
from mlgate.scoring.result import ScoreResult
from mlgate.scoring.source import missing_columns, open_source
from mlgate.scoring.spark import check_folder_output, score_spark
from mlgate.serving.runtime import ServedModel

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["ENGINES", "score"]

#: Refused rows a result lists one by one; every one is counted by its code.
SHOWN = 20


def score(
    project: Project,
    ref: str,
    input: str,
    output: str,
    *,
    engine: Literal["local", "spark"] = "local",
    id_column: str | None = None,
    batch_rows: int = 65_536,
    strict: bool = False,
    log: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score every row of `input` with the model `ref` names, into `output` (Parquet).

    `ref`: models:/NAME@ALIAS, models:/NAME/VERSION or a run folder; `input`: a Parquet
    or CSV file or folder (path or fsspec URL); `output`: a .parquet file, or else a
    folder of part files (on Spark always a folder, one part file per partition).
    `log` appends every scored row to the prediction log.
    """
    if check_engine(engine) == "spark":
        check_folder_output(output)  # before a model loads and Spark starts
    if batch_rows < 1:
        raise ConfigError(
            "the batch size must be a positive number of rows.",
            field="--batch-rows",
            value=batch_rows,
            fix="Pass --batch-rows 65536 (the default), or more or fewer.",
        )
    started = time.perf_counter()
    registered = is_registry_ref(ref)
    if not registered:
        _refuse_data_file(ref)
    if log and not registered:
        raise ConfigError(
            "--log needs a registered version: the prediction log holds registered "
            "versions' answers.",
            field="MODEL_URI",
            value=ref,
            fix="Name it as models:/NAME/VERSION or models:/NAME@champion.",
        )
    loaded = load_ref(ref, catalog=project.catalog if registered else None)
    model = ServedModel.load(loaded, onnx=project.settings.onnx)
    keep = [id_column] if id_column is not None else []
    if id_column is not None and id_column in model.feature_set:
        keep = []  # read once; still copied to the output
    if engine == "spark":
        check_location(input)
        spark = spark_session(project.config.data.spark if project.has_config else None)
        frame = read_frame(spark, input)
        missing_columns(input, frame.columns, model.features, keep)
    else:
        source = open_source(input, model.features, frozenset(model.numeric), keep=keep)
    journal = Journal(project, model, loaded.version) if log and loaded.version else None
    result = ScoreResult(
        model=model.name,
        version=model.version,
        engine=engine,
        input=input,
        complete=False,
        request_id=None if journal is None else journal.request_id,
        role=None if journal is None else journal.role,
    )
    options = ScoreOptions(
        id_column=id_column,
        batch_rows=batch_rows,
        strict=strict,
        overwrite=overwrite,
        shown=SHOWN,
    )
    scoring = time.perf_counter()
    try:
        if engine == "spark":
            with reading(input):
                run = score_spark(
                    spark,
                    frame,
                    loaded,
                    model,
                    output,
                    options,
                    onnx=project.settings.onnx,
                    journal=journal,
                )
        else:
            run = score_local(model, source, output, options, journal=journal, progress=progress)
    except BaseException:
        if journal is not None:
            journal.close(commit=False)
        raise
    if journal is not None:
        journal.close(commit=run.complete)
    result.complete = run.complete
    result.output = output if run.complete else None
    result.rows_read = run.rows_read
    result.rows_scored = run.rows_scored
    result.rows_skipped = sum(run.codes.values())
    result.refusals = run.refusals
    result.refusal_codes = dict(run.codes)
    result.rows_logged = 0 if journal is None else journal.rows
    result.scoring_seconds = time.perf_counter() - scoring
    result.seconds = time.perf_counter() - started
    return result


def _refuse_data_file(ref: str) -> None:
    """A ConfigError when MODEL_URI is a data file (the rows to score given first)."""
    from pathlib import Path

    from mlgate.data.io import table_format
    from mlgate.errors import DataError

    if not Path(ref).is_file():
        return
    try:
        table_format(ref)
    except DataError:
        return  # not a data file's name: load_ref says what is wrong with it
    raise ConfigError(
        "must be a registry reference (models:/NAME@alias, NAME@alias) or a run "
        "folder; the path given is a data file.",
        field="MODEL_URI",
        value=ref,
        fix="Give the model first: mlgate score MODEL_URI INPUT OUTPUT.",
    )
