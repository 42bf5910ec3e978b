"""A batch's rows through the gateway's input checks: the good ones as one `Batch`,
the refused ones with their row id and the gateway's reason.

The gateway refuses a whole request at its first bad value (`serving.batch`); a
batch job skips that row and scores the rest. The checks stop at the first bad
row they meet and name it; the rows before it in that feature passed, but the
rest of the batch is unknown. So the batch is split around the row and each
part checked again, halving any part that is more than half of what it came
from: a batch with k bad rows costs about min(k, log2 n) passes, never n.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlgate.errors import InputError
from mlgate.scoring.result import Refusal
from mlgate.serving.batch import Batch, from_columns
from mlgate.serving.runtime import ServedModel

__all__ = ["Checked", "check_batch"]


@dataclass(frozen=True)
class Checked:
    """A batch's checked rows: `batch` (None: none passed) holds the rows at `kept`
    (positions in the batch, in order); `refused` names the others."""

    batch: Batch | None
    kept: list[int]
    refused: list[Refusal]


def check_batch(model: ServedModel, columns: dict[str, list[Any]], row_ids: list[int]) -> Checked:
    """The rows of `columns` (one list per feature) that pass the gateway's checks."""
    n = len(row_ids)
    try:
        return Checked(from_columns(model, columns, limit=n), list(range(n)), [])
    except InputError as e:
        first = e
    bad: dict[int, InputError] = {}
    pending: list[tuple[int, int, InputError | None]] = [(0, n, first)]
    while pending:
        lo, hi, error = pending.pop()
        if lo >= hi:
            continue
        if error is None:
            try:
                from_columns(model, _rows(columns, lo, hi), limit=hi - lo)
                continue
            except InputError as e:
                error = e
        if error.row is None:  # the batch as a whole: cannot happen for columns of lists
            raise error
        at = lo + error.row
        bad[at] = error
        pending.append((lo, at, None))
        half = (hi - lo) // 2
        if hi - at - 1 > half and half > 0:
            middle = at + 1 + (hi - at - 1) // 2
            pending += [(at + 1, middle, None), (middle, hi, None)]
        else:
            pending.append((at + 1, hi, None))
    kept = [i for i in range(n) if i not in bad]
    refused = [_refusal(row_ids[i], bad[i]) for i in sorted(bad)]
    if not kept:
        return Checked(None, [], refused)
    good = {name: [values[i] for i in kept] for name, values in columns.items()}
    return Checked(from_columns(model, good, limit=len(kept)), kept, refused)


def _rows(columns: dict[str, list[Any]], lo: int, hi: int) -> dict[str, list[Any]]:
    return {name: values[lo:hi] for name, values in columns.items()}


def _refusal(row_id: int, error: InputError) -> Refusal:
    """The gateway's refusal of a row, its "row N" (the position in the request it was
    checked in) made the row's id in the input."""
    reason = re.sub(rf"\brow {error.row}\b", f"row {row_id}", error.problem, count=1)
    return Refusal(row_id=row_id, code=error.code, feature=error.feature, reason=reason)
