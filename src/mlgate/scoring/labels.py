"""Labels for logged rows from a file: what POST /feedback takes, for a batch run's rows.

A label file (CSV or Parquet) has a `request_id`, the row's number (`row_id`,
or `row`) and its `label`: for a batch run, the `request_id` and `row_id`
columns of its output, so its labels are one join away. The labels are checked
as /feedback checks them (a classifier's label must name one of the classes the
champion or challenger predicts, by its text or, both being numbers, its value: a
label column of 0.0 and 1.0 names the classes 0 and 1), all of them before
any is kept: a file with one bad label keeps none, and says which row. A label
for a request id the gateway (or a batch run) never issued is counted as
unknown and not kept; one for a row labelled before (in the feedback log, or
higher up in the same file) as a duplicate, and not kept either. /feedback
itself takes rows below MLGATE_MAX_BATCH_ROWS only, so labels of a large batch
run go this way.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mlgate.errors import DataError
from mlgate.registry.versions import CHALLENGER, CHAMPION
from mlgate.scoring.journal import Staged, request_ids
from mlgate.serving.classes import Classes
from mlgate.serving.coercion import show_value
from mlgate.serving.records import encode_feedback

if TYPE_CHECKING:
    from mlgate.project import Project

__all__ = ["LabelsResult", "send_labels"]

#: Labels checked and spooled at a time.
_CHUNK = 65_536


class LabelsResult(BaseModel):
    """What became of a label file's labels."""

    model: str
    accepted: int
    unknown: int
    duplicate: int


def send_labels(project: Project, location: str, *, model: str | None = None) -> LabelsResult:
    """Record the labels of `location` as feedback of `model` (default: the project's)."""
    import pyarrow as pa

    from mlgate.scoring.source import open_table

    name = model or project.name
    classes = _classes(project, name)
    table = open_table(location)
    row_column = next((c for c in ("row_id", "row") if c in table.schema.names), None)
    missing = [c for c in ("request_id", "label") if c not in table.schema.names]
    if missing or row_column is None:
        raise DataError(
            "a label file needs the columns request_id, row_id (or row) and label; it has "
            f"{', '.join(table.schema.names)}.",
            source=location,
            fix="Take request_id and row_id from `mlgate score --log`'s output.",
        )
    ids = request_ids(project, name)
    items: list[tuple[str, int, str]] = []
    unknown = 0
    number = 0
    try:
        for batch in table.to_batches(columns=["request_id", row_column, "label"]):
            values = batch.to_pydict()
            for request_id, row, label in zip(
                values["request_id"], values[row_column], values["label"], strict=True
            ):
                label = _checked(location, number, row_column, row, label, classes)
                number += 1
                if not isinstance(request_id, str) or not ids.issued(request_id):
                    unknown += 1
                    continue
                items.append((request_id, int(row), label))
    except (pa.ArrowException, OSError, UnicodeDecodeError) as e:
        raise DataError(
            f"cannot read the label file: {str(e).strip().splitlines()[0][:160]}.",
            source=location,
            fix=f"Check that {row_column} holds whole numbers, and that the file is not damaged.",
        ) from e
    items, duplicate = _fresh(project.log_root, items)
    staged = Staged(project, "feedback", f"labels-{uuid.uuid4().hex}")
    try:
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            staged.write(encode_feedback(time.time_ns(), chunk, name), len(chunk))
    except BaseException:
        staged.close(commit=False)
        raise
    staged.close(commit=True)
    return LabelsResult(model=name, accepted=len(items), unknown=unknown, duplicate=duplicate)


def _fresh(root: str, items: list[tuple[str, int, str]]) -> tuple[list[tuple[str, int, str]], int]:
    """(the labels of rows not labelled before, how many were): a row's first label is the
    one the analyses take, so a second one, from the log or the same file, is not kept."""
    from mlgate.state.predlog import read_log

    ids = sorted({request_id for request_id, _, _ in items})
    seen: set[tuple[str, int]] = set()
    if ids:
        # Issued ids are 40 hex digits (checked above): safe to quote in the query.
        listed = ", ".join(f"'{request_id}'" for request_id in ids)
        logged = read_log(
            root,
            "feedback",
            f"SELECT DISTINCT request_id, row FROM log WHERE request_id IN ({listed})",
        )
        if len(logged):
            seen.update(zip(logged["request_id"], logged["row"].astype(int), strict=True))
    fresh: list[tuple[str, int, str]] = []
    for request_id, row, label in items:
        if (request_id, row) not in seen:
            seen.add((request_id, row))
            fresh.append((request_id, row, label))
    return fresh, len(items) - len(fresh)


def _checked(
    location: str, number: int, column: str, row: Any, label: Any, classes: Classes | None
) -> str:
    """The label as it is kept (a class as predictions show it); DataError for a label
    /feedback would refuse, naming its row in the file."""
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise DataError(
            f"row {number}: {column} must be a row's number, an integer from 0; got "
            f"{show_value(row)}.",
            source=location,
        )
    if label is None or label == "" or (isinstance(label, float) and math.isnan(label)):
        raise DataError(f"row {number}: the label is missing.", source=location)
    if (
        isinstance(label, bool)
        or not isinstance(label, str | int | float)
        or (isinstance(label, float) and not math.isfinite(label))
        or (isinstance(label, str) and not 0 < len(label) <= 1000)
    ):
        raise DataError(
            f"row {number}: the label must be the true label, a text or a finite number; "
            f"got {show_value(label)}.",
            source=location,
        )
    if classes is None:
        return str(label)
    named = classes.match(label)
    if named is None:
        raise DataError(
            f"row {number}: the label {show_value(label)} is not a class the model predicts; "
            f"give one of: {classes.listed()}.",
            source=location,
        )
    return named


def _classes(project: Project, name: str) -> Classes | None:
    """The classes a label may name: the champion's and challenger's, as predictions show
    them; None for a regressor."""
    from mlgate.registry.bundle import CARD_FILE, ModelCard

    found: dict[str, None] = {}
    regression = False
    for alias in (CHAMPION, CHALLENGER):
        version = project.catalog.alias(name, alias)
        if version is None:
            continue
        folder = project.catalog.local_path(version)
        card = ModelCard.model_validate_json((folder / CARD_FILE).read_text(encoding="utf-8"))
        if card.task == "classification" and card.classes:
            found.update(dict.fromkeys(map(str, card.classes)))
        regression = regression or card.task == "regression"
    return None if regression or not found else Classes(list(found))
