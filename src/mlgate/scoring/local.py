"""The local engine: the input streamed batch by batch through the gateway's checks and
its `ServedModel`, the predictions streamed to Parquet. Memory is bounded by the
batch size (and pyarrow's read-ahead), not by the input."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlgate.scoring.checks import check_batch
from mlgate.scoring.output import output_batch, output_schema
from mlgate.scoring.result import EngineRun
from mlgate.scoring.sink import Sink

if TYPE_CHECKING:
    from mlgate.scoring.journal import Journal
    from mlgate.scoring.options import ScoreOptions
    from mlgate.scoring.source import Source
    from mlgate.serving.runtime import ServedModel

__all__ = ["Progress", "score_local"]

#: Progress callback: (rows read so far, rows in the input or None when unknown).
Progress = Callable[[int, int | None], None]


def score_local(
    model: ServedModel,
    source: Source,
    output: str,
    options: ScoreOptions,
    *,
    journal: Journal | None,
    progress: Progress | None = None,
) -> EngineRun:
    """Score every row of `source` with `model` into `output`; see `mlgate.scoring.score`."""
    run = EngineRun()
    total = source.count_rows()
    id_type = source.dataset.schema.field(options.id_column).type if options.id_column else None
    schema = output_schema(model, options.id_column, id_type, logged=journal is not None)
    sink = Sink(output, schema, overwrite=options.overwrite)
    try:
        for batch in source.batches(options.batch_rows):
            first = run.rows_read
            row_ids = list(range(first, first + batch.num_rows))
            run.rows_read += batch.num_rows
            columns = {name: source.values(batch, name) for name in model.features}
            checked = check_batch(model, columns, row_ids)
            if checked.refused:
                run.codes.update(r.code for r in checked.refused)
                run.refusals.extend(checked.refused[: max(0, options.shown - len(run.refusals))])
                if options.strict:
                    run.complete = False
                    break
            if checked.batch is not None:
                started = time.perf_counter()
                prediction = model.predict(checked.batch.columns)
                seconds = time.perf_counter() - started
                kept_ids = [row_ids[i] for i in checked.kept]
                ids: Any = None
                if options.id_column is not None:
                    ids = batch.column(options.id_column)
                    if len(checked.kept) < batch.num_rows:
                        ids = ids.take(checked.kept)
                request_id = journal.request_id if journal is not None else None
                sink.write(output_batch(schema, model, kept_ids, ids, prediction, request_id))
                if journal is not None:
                    journal.write(checked.batch, prediction, kept_ids, seconds)
                run.rows_scored += len(kept_ids)
            if progress is not None:
                progress(run.rows_read, total)
        if run.complete:
            sink.commit()
        else:
            sink.abort()
    except BaseException:
        sink.abort()
        raise
    return run
