"""Whether an ONNX export answers as the model does: by value, within stated tolerances.

Labels are compared as values (the class 1.0 is the 1 ONNX Runtime may answer, and
the text "1" is neither). Probabilities may differ by PROBABILITY_TOLERANCE: ONNX
Runtime sums them in float32, scikit-learn in float64, and float32 sums of a few
hundred trees drift by about 1e-7. Where the two likeliest classes tie, either label
is the model's answer.

One kind of larger difference is expected and allowed, counted: a tree ensemble
compares each feature with its thresholds, and a feature ONNX computed in float32
(scaled, squared) may land on the other side of a threshold the float64 value sat
on, so that tree answers with another leaf. A few rows differ so. Up to
MAX_DIFFERING_SHARE of the rows checked may, for tree models only: that bounds how
far any rate metric of the served model (accuracy, recall) can be from the one the
gates judged, at half a point, a quarter of the usual 2-point regression gate. A
model without trees has no thresholds to flip, so it may differ on none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DIFFERING_SHARE",
    "PROBABILITY_TOLERANCE",
    "REGRESSION_TOLERANCE",
    "TIE_TOLERANCE",
    "Agreement",
    "classifier_agreement",
    "regressor_agreement",
    "same_labels",
]

#: Largest difference allowed between ONNX's and the model's regression outputs, relative
#: to the outputs' scale.
REGRESSION_TOLERANCE = 1e-4
#: Probabilities this close count as a tie between two classes.
TIE_TOLERANCE = 1e-6
#: A row whose ONNX probabilities differ from the model's by more than this differs.
PROBABILITY_TOLERANCE = 1e-4
#: Share of checked rows on which the export of a tree model may differ from the model.
MAX_DIFFERING_SHARE = 0.005

_FLIPPED = "as float32 arithmetic can move a feature across a tree threshold"


@dataclass(frozen=True)
class Agreement:
    """How an export's answers compare with the model's on the rows checked."""

    rows: int
    #: Rows whose answer differs (label, probabilities or output), ties excluded.
    differing: int = 0
    #: Of those, rows whose label differs (classifiers).
    label_flips: int = 0
    #: Rows whose labels differ where two classes tie: the label is either.
    tied: int = 0
    max_probability_difference: float | None = None
    #: Why the export is refused; None when it is kept.
    refusal: str | None = None

    @property
    def note(self) -> str:
        """What agreed, for the model card."""
        if self.refusal is not None:
            return self.refusal
        if not self.differing:
            note = "predictions equal to the model's on every test row"
            if self.tied:
                note += f" but {self.tied} where two classes tie (equal probabilities: the "
                note += "label is either)"
            return note
        note = (
            f"predictions equal to the model's on {self.rows - self.differing} of "
            f"{self.rows} test rows; {self.differing} differ"
        )
        if self.max_probability_difference is not None:
            note += f" ({_split(self.differing, self.label_flips)})"
        note += f", {_FLIPPED} (at most {MAX_DIFFERING_SHARE:.1%} of rows may)"
        if self.tied:
            note += f"; {self.tied} where two classes tie"
        return note


def _split(differing: int, flips: Any) -> str:
    flipped = int(flips.sum()) if hasattr(flips, "sum") else int(flips)
    return (
        f"{flipped} in label, {differing - flipped} in probabilities alone by more than "
        f"{PROBABILITY_TOLERANCE:g}"
    )


def same_labels(a: Any, b: Any) -> Any:
    """Row by row, whether two label arrays name the same class: by value, so the
    0.0 of a float-labelled model is the 0 ONNX Runtime answers, and "1" is not 1."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "biuf" and b.dtype.kind in "biuf":
        return a.astype(np.float64) == b.astype(np.float64)
    return np.asarray([str(x) for x in a.tolist()]) == np.asarray([str(x) for x in b.tolist()])


def _tied(proba: Any) -> Any:
    """Rows whose two likeliest classes have the same probability, to within rounding.

    scikit-learn breaks such a tie by class order; ONNX's float32 sums break it by
    rounding (0.49999994 against 0.50000006), so the labels may differ there.
    """
    import numpy as np

    if proba.ndim != 2 or proba.shape[1] < 2:
        return np.zeros(len(proba), dtype=bool)
    top = np.sort(proba, axis=1)[:, -2:]
    return np.abs(top[:, 1] - top[:, 0]) <= TIE_TOLERANCE


def _allowed(rows: int, trees: bool) -> float:
    return MAX_DIFFERING_SHARE * rows if trees else 0.0


def _beyond(trees: bool) -> str:
    if trees:
        return (
            f"a tree model's export may differ on at most {MAX_DIFFERING_SHARE:.1%} of rows "
            "(float32 threshold flips)"
        )
    return "a model without trees may differ on none"


def classifier_agreement(
    expected: Any, got: Any, proba: Any | None, onnx_proba: Any | None, *, trees: bool
) -> Agreement:
    """Labels `got` (and probabilities `onnx_proba`) of the export against the model's
    `expected` labels and `proba`; `trees` when the model is a tree ensemble."""
    import numpy as np

    same = same_labels(got, expected)
    tied = (_tied(proba) if proba is not None else np.zeros(len(same), dtype=bool)) & ~same
    flips = ~same & ~tied
    differs = flips.copy()
    difference = None
    if onnx_proba is not None and proba is not None:
        gap = np.max(np.abs(np.asarray(onnx_proba, dtype=np.float64) - proba), axis=1)
        differs |= gap > PROBABILITY_TOLERANCE
        difference = float(gap.max()) if len(gap) else None
    rows, count = len(same), int(differs.sum())
    refusal = None
    if count > _allowed(rows, trees):
        refusal = (
            f"ONNX answers differ on {count} of {rows} test rows ({_split(count, flips)}); "
            f"{_beyond(trees)}"
        )
    return Agreement(
        rows=rows,
        differing=count,
        label_flips=int(flips.sum()),
        tied=int(tied.sum()),
        max_probability_difference=difference,
        refusal=refusal,
    )


def regressor_agreement(expected: Any, got: Any, *, trees: bool) -> Agreement:
    """Outputs `got` of the export against the model's `expected`: a row differs when
    off by more than REGRESSION_TOLERANCE of the outputs' scale."""
    import numpy as np

    rows = len(expected)
    if not rows:
        return Agreement(rows=0)
    scale = max(float(np.max(np.abs(expected))), 1.0)
    off = np.abs(np.asarray(got, dtype=np.float64) - expected) / scale
    count = int((off > REGRESSION_TOLERANCE).sum())
    refusal = None
    if count > _allowed(rows, trees):
        refusal = (
            f"ONNX outputs differ on {count} of {rows} test rows, by up to {off.max():.2e} "
            f"(relative; {REGRESSION_TOLERANCE:g} allowed); {_beyond(trees)}"
        )
    return Agreement(rows=rows, differing=count, refusal=refusal)
