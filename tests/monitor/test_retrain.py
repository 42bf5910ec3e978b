"""The retraining set from logged traffic: the model's columns only, the configured test
data cut to them, and a schema without the duplicate-row rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from mlgate.config.loader import load_config
from mlgate.data.schema import load_schema
from mlgate.data.validate import validate
from mlgate.monitor.retrain import retraining_set
from monitor.loans import FEATURES, TARGET, applicants, with_repeats, write_project

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def logged(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame`'s rows as the cycle reads them from the logs: the served features, the
    prediction and the label as text, one request per row."""
    rows = len(frame)
    found = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "row": 0,
            "prediction": "0",
            "time": [AT - timedelta(seconds=i) for i in range(rows)],
            "label": frame[TARGET].astype(str).to_numpy(),
        }
    )
    for feature in FEATURES:
        found[feature] = frame[feature].to_numpy()
    return found


def test_without_a_configured_schema_the_inferred_one_has_no_duplicate_rule(
    tmp_path: Path,
) -> None:
    path = write_project(tmp_path / "project")
    text = path.read_text(encoding="utf-8").replace("schema: schema.yaml\n", "")
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    traffic = logged(with_repeats(applicants(200, seed=4, drift=0.5), 0.3, seed=2))
    notes: list[str] = []
    built = retraining_set(config, traffic, AT, notes)
    assert built is not None
    assert built.recent_test
    schema = load_schema(built.folder / "schema.yaml")
    assert list(schema.columns) == [*FEATURES, TARGET]
    assert (schema.dataset.max_duplicates, schema.dataset.max_duplicate_rate) == (None, None)
    train = pd.read_parquet(built.folder / "train.parquet")
    assert train.duplicated().sum() > 0
    assert validate(train, schema).passed
    assert notes == [
        "retraining on 208 rows (208 recent labelled); testing on 52 held-out recent rows"
    ]


def test_the_configured_test_data_is_cut_to_the_models_columns(tmp_path: Path) -> None:
    path = write_project(tmp_path / "project", monitor={"retrain": {"evaluate_on": "configured"}})
    config = load_config(path)
    assert "year" in pd.read_csv(config.resolve("data/test.csv")).columns
    built = retraining_set(config, logged(applicants(100, seed=4)), AT, [])
    assert built is not None
    assert not built.recent_test
    assert built.config.data.test == str(built.folder / "test.parquet")
    test = pd.read_parquet(built.folder / "test.parquet")
    assert list(test.columns) == [*FEATURES, TARGET]
    assert len(test) == 200
    assert validate(test, load_schema(built.folder / "schema.yaml")).passed


def test_too_few_recent_rows_for_a_test_set_are_said(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path / "project"))
    notes: list[str] = []
    built = retraining_set(config, logged(applicants(12, seed=4)), AT, notes)
    assert built is not None
    assert not built.recent_test
    assert notes == [
        "12 recent labelled row(s), fewer than the 20 a held-out test set needs: tested on "
        "the configured test data instead",
        "retraining on 12 rows (12 recent labelled)",
    ]


def test_a_slice_that_is_not_a_feature_is_left_out_with_a_note(tmp_path: Path) -> None:
    path = write_project(tmp_path / "project", evaluation={"slices": ["employment", "year"]})
    notes: list[str] = []
    built = retraining_set(load_config(path), logged(applicants(100, seed=4)), AT, notes)
    assert built is not None
    assert built.config.evaluation.slices == ["employment"]
    assert notes[-1] == "slice(s) 'year' are not features: not in traffic"


def test_unlabelled_traffic_alone_is_nothing_to_retrain_on(tmp_path: Path) -> None:
    config = load_config(write_project(tmp_path / "project"))
    traffic = logged(applicants(50, seed=4)).assign(label=None)
    notes: list[str] = []
    assert retraining_set(config, traffic, AT, notes) is None
    assert notes == [
        "0 recent labelled row(s), fewer than the 20 a held-out test set needs: tested on "
        "the configured test data instead",
        "nothing to retrain on: no configured data and no labelled traffic",
    ]
    assert not (config.base_dir / ".mlgate" / "retrain").exists()
