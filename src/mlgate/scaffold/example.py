"""The example project: a generated credit-risk dataset with a drift knob, and its config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import ConfigError
from mlgate.scaffold._files import refuse_links

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXAMPLE_CONFIG", "EXAMPLE_FILES", "credit_data", "write_example"]

#: What `write_example` writes, relative to the project folder.
EXAMPLE_FILES = (
    "mlgate.yaml",
    "schema.yaml",
    "data/train.csv",
    "data/test.csv",
    "data/drifted.csv",
)

EXAMPLE_CONFIG = """\
# mlgate.yaml: one model's road. Paths are relative to this file.
name: credit-risk
data:
  train: data/train.csv
  test: data/test.csv
  target: default
schema: schema.yaml
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 100, max_depth: 8}
  preprocessing: auto
  cv_folds: 5
evaluation:
  slices: [employment]
gates:
  min: {accuracy: 0.80, f1: 0.78, roc_auc: 0.85}
  max_regression: {accuracy: 0.02}   # against the registered champion, on the same rows
  # max_latency_ratio: 1.5           # p99 vs the champion's, as the gateway serves them
"""


def credit_data(rows: int, *, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """Loan applicants and whether they defaulted; `drift` in [0, 1] shifts the inputs.

    Drift moves the inputs and also changes what drives defaults (region starts
    to matter, credit score less), so a model trained at drift 0 loses accuracy
    as drift grows, the way deployed models decay, and retraining on recent
    labelled data wins it back.
    """
    import numpy as np
    import pandas as pd

    if not 0.0 <= drift <= 1.0:
        raise ConfigError("drift must be between 0 and 1", field="drift", value=drift)
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41 + 8 * drift, 11, rows), 18, 90).round().astype("int64")
    income = np.exp(rng.normal(10.8 - 0.3 * drift, 0.45, rows)).round(-2)
    debt_ratio = np.clip(rng.beta(2, 5, rows) + 0.15 * drift, 0, 1.5).round(3)
    credit_score = np.clip(rng.normal(680 - 40 * drift, 60, rows), 300, 850).round().astype("int64")
    employment = rng.choice(
        ["employed", "self-employed", "unemployed"],
        rows,
        p=[0.7 - 0.2 * drift, 0.2, 0.1 + 0.2 * drift],
    )
    region = rng.choice(["north", "south", "east", "west"], rows)
    signal = (
        -0.012 * (1 - 0.8 * drift) * (credit_score - 680)
        + 4.0 * (debt_ratio - 0.3)
        - 0.9 * (np.log(income) - 10.8)
        + 1.6 * (employment == "unemployed")
        + 0.4 * (employment == "self-employed")
        - 0.01 * (age - 41)
        # What drives defaults changes too (concept drift): region starts to matter.
        + drift * (2.2 * (region == "east") - 2.0 * (region == "west"))
    )
    noise = rng.logistic(0, 0.35, rows)
    default = (signal + noise > 0.45).astype("int64")
    income_with_gaps = income.astype("float64")
    income_with_gaps[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "age": age,
            "income": income_with_gaps,
            "debt_ratio": debt_ratio,
            "credit_score": credit_score,
            "employment": employment,
            "region": region,
            "default": default,
        }
    )


def write_example(folder: Path, *, rows: int = 2000, seed: int = 7) -> Path:
    """Write the example project (data, schema, config) into `folder`; give the config path."""
    from mlgate.data.infer import infer_schema, inference_header
    from mlgate.data.io import to_polars

    refuse_links(folder, EXAMPLE_FILES)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame = credit_data(rows, seed=seed)
    cut = int(rows * 0.8)
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    train.to_csv(data / "train.csv", index=False)
    test.to_csv(data / "test.csv", index=False)
    credit_data(rows // 2, seed=seed + 1, drift=0.6).to_csv(data / "drifted.csv", index=False)
    schema = infer_schema(to_polars(train))
    schema.save(
        folder / "schema.yaml", inference_header("data/train.csv", len(train), train.shape[1])
    )
    config = folder / "mlgate.yaml"
    config.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    return config
