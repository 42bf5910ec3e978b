"""A saved model loaded and asked for its test rows the way the gateway serves them.

Run in a fresh process (`python -P -m mlgate.serving.loadcheck BUNDLE OUT`) before
a version is registered as passing: nothing of the training process helps it, not
the classes it imported nor the folder it ran in, so what loads here loads in
`mlgate serve`. The bundle's files are read verified, its types trusted as the
gateway trusts them, its ONNX export opened as the gateway opens it; the test set
saved with it is sent through the gateway's input checks. The answers go to OUT
as `labels.npy` (scikit-learn's path) and `onnx.npy` (ONNX Runtime's, when the
bundle has an export), or the reason it failed to `error.txt`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.road._loadback import ERROR, LABELS, ONNX_LABELS

__all__ = ["answer"]


def answer(bundle: Path, out: Path) -> None:
    """Load `bundle` as the gateway does and write its answers to the test set into `out`."""
    import pandas as pd

    from mlgate.registry.bundle import TEST_SET
    from mlgate.registry.refs import load_ref
    from mlgate.serving.batch import from_columns
    from mlgate.serving.runtime import ServedModel

    loaded = load_ref(str(bundle))
    frame = pd.read_parquet(bundle / TEST_SET)
    columns = {name: [_plain(v) for v in frame[name].tolist()] for name in loaded.card.features}
    paths = [(LABELS, ServedModel.load(loaded, onnx=False))]
    if loaded.card.onnx is not None:
        paths.append((ONNX_LABELS, ServedModel.load(loaded)))
    for name, served in paths:
        batch = from_columns(served, columns, limit=len(frame) + 1)
        np.save(out / name, np.asarray(served.predict(batch.columns).labels), allow_pickle=False)


def _plain(value: Any) -> Any:
    """A value as a JSON client sends it: None for a missing one, numbers as Python's."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def main(argv: list[str]) -> int:
    bundle, out = Path(argv[0]), Path(argv[1])
    try:
        answer(bundle, out)
    except Exception as e:  # whatever stops it loading or answering is the verdict
        problem = getattr(e, "problem", None) or f"{type(e).__name__}: {e}"
        (out / ERROR).write_text(str(problem), encoding="utf-8")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
