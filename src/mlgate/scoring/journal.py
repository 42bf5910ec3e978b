"""A batch run's predictions in the prediction log, as the gateway logs served ones.

With `mlgate score --log` each scored batch is one record in the same spool
the gateway writes (`mlgate.state.spool`), with route `batch`, and the spool is
made into Parquet segments when the run ends. Every row of a run shares one
request id, issued and signed like the gateway's (so labels are taken for it
only), and keeps its `row_id` as its row: labels join by (request id, row id).
The role is the version's alias when it is the champion or the challenger, else
`batch`; `mlgate monitor` counts the champion's rows as it counts served ones.

A run's records are spooled in a folder of its own under the spool, and become
segments only when the run ends with its output written: a run stopped part way
(--strict, an error) logs nothing, as it writes nothing. A run killed before its
end leaves that folder behind, unconverted; it can be removed.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.registry.versions import CHALLENGER, CHAMPION, VersionInfo
from mlgate.serving.records import encode_prediction
from mlgate.serving.request_ids import RequestIds
from mlgate.state.convert import Converter
from mlgate.state.keys import shared_key
from mlgate.state.predlog import check_writable
from mlgate.state.spool import Spool

if TYPE_CHECKING:
    from mlgate.project import Project
    from mlgate.serving.batch import Batch
    from mlgate.serving.runtime import Prediction, ServedModel

__all__ = ["ROUTE", "Journal", "Staged", "batch_role", "encode_batch", "request_ids"]

log = logging.getLogger(__name__)

#: The route a batch run's rows are logged under.
ROUTE = "batch"


def batch_role(version: VersionInfo) -> str:
    """The role a version's batch rows are logged under: its alias, or `batch`."""
    for alias in (CHAMPION, CHALLENGER):
        if alias in version.aliases:
            return alias
    return ROUTE


def request_ids(project: Project, model: str) -> RequestIds:
    """The request ids of `model`'s gateway: a batch run's id is signed with its key."""
    return RequestIds(shared_key(project.state, f"request-ids:{model}"))


class Staged:
    """A spool of `kind` records in a folder of the run's own under the project's spool:
    made segments of the log by `close(commit=True)`, dropped by `close(commit=False)`."""

    def __init__(self, project: Project, kind: str, run: str) -> None:
        check_writable(project.log_root, kind)
        self.project = project
        self.folder = Path(project.spool_root) / "batch-runs" / run
        self.spool = Spool(
            str(self.folder),
            kind,
            sync_interval=project.settings.log_sync_interval,
            refused="the batch run stopped",
        )
        self.spool.open()  # one file, converted at the end: no rotation thread

    def write(self, line: bytes, records: int = 1) -> None:
        """Append whole JSON lines (`records` of them)."""
        self.spool.write(line, records)

    def close(self, *, commit: bool) -> bool:
        """Close the spool; with `commit` make its records segments of the log, else drop
        them. False when they could not be made segments (they stay, for a later try)."""
        self.spool.close()
        if commit:
            converter = Converter(str(self.folder), self.project.log_root)
            converter.drain(60.0)
            left = converter.pending()
            if left:  # storage failing: the records stay in the folder
                log.error(
                    "%d spool file(s) in %s could not be made segments of the log at %s",
                    left,
                    self.folder,
                    self.project.log_root,
                )
                return False
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # the last run's: the folder goes too
            self.folder.parent.rmdir()
        return True


class Journal:
    """Appends a batch run's predictions to the project's prediction log."""

    def __init__(self, project: Project, model: ServedModel, version: VersionInfo) -> None:
        self.model = model
        self.role = batch_role(version)
        self.request_id = request_ids(project, model.name).new()
        self.staged = Staged(project, "predictions", self.request_id)
        self.rows = 0

    def write(self, batch: Batch, prediction: Prediction, rows: list[int], seconds: float) -> None:
        """Log a scored batch: its rows (numbered `rows`), their answers and the time."""
        line = encode_batch(
            self.model, self.role, self.request_id, batch, prediction, rows, seconds
        )
        self.append(line, batch.rows)

    def append(self, line: bytes, rows: int) -> None:
        """Log a batch `encode_batch` made (on a Spark executor): `rows` rows."""
        self.staged.write(line)
        self.rows += rows

    def close(self, *, commit: bool) -> None:
        """Make the run's records segments of the log (`commit`), or drop them."""
        if not self.staged.close(commit=commit) or not commit:
            self.rows = 0


def encode_batch(
    model: ServedModel,
    role: str,
    request_id: str,
    batch: Batch,
    prediction: Prediction,
    rows: list[int],
    seconds: float,
) -> bytes:
    """A scored batch as one record of the prediction log (a JSON line)."""
    return encode_prediction(
        time.time_ns(),
        request_id,
        model.name,
        model.version,
        role,
        True,
        "none",
        0.0,
        None,
        ROUTE,
        seconds * 1e3,
        prediction,
        model.card.task == "regression",
        None,
        batch,
        None,
        rows,
    )
