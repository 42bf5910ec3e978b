"""A version whose label set differs from the champion's is registered, failed, with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mlgate.config.loader import load_config
from mlgate.road.run import run

CONFIG = """\
name: labels
data: {train: train.csv, target: y, split: {test_size: 0.3, seed: 1}}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}, cv_folds: 0}
gates: {max_regression: {accuracy: 0.05}}
"""


def _write(folder: Path, classes: int) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = np.digitize(x[:, 0], np.linspace(-1, 1, classes - 1)) if classes > 2 else (x[:, 0] > 0)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": [f"c{int(v)}" for v in y]})
    frame.to_csv(folder / "train.csv", index=False)
    (folder / "mlgate.yaml").write_text(CONFIG)
    return folder / "mlgate.yaml"


def test_a_new_label_set_is_registered_failed_not_refused(tmp_path: Path) -> None:
    first = run(load_config(_write(tmp_path, 2)), register=True)
    assert first.registration is not None
    assert first.registration.alias == "champion"
    second = run(load_config(_write(tmp_path, 3)), register=True)
    assert not second.passed
    assert second.registration is not None
    assert second.registration.alias is None
    assert any(r.startswith("cannot compare with the champion:") for r in second.reasons), (
        second.reasons
    )
