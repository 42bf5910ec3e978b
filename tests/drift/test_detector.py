"""The detector: calibrated under no drift, precise under a known one, and the file path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from drift_data import Shifted, numeric_and_categorical

from mlgate.config.monitor import DriftConfig
from mlgate.drift import (
    DriftReport,
    NumericSample,
    StatTest,
    detect,
    detect_files,
    register_test,
)
from mlgate.drift import TestOutcome as Outcome
from mlgate.errors import ConfigError, DataError

ALPHA = 0.05


def mixed(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """20 numeric columns of four shapes (normal, skewed, counts, rounded) and 2 categorical."""
    columns: dict[str, Any] = {}
    for i in range(20):
        shape = i % 4
        if shape == 0:
            values: Any = rng.normal(i, 1 + i, rows)
        elif shape == 1:
            values = rng.lognormal(0, 1, rows)
        elif shape == 2:
            values = rng.poisson(1 + i / 4, rows)  # integers, many ties
        else:
            values = rng.normal(0, 1, rows).round(1)
        columns[f"x{i:02d}"] = values
    columns["plan"] = rng.choice(["basic", "plus", "pro"], rows, p=[0.6, 0.3, 0.1])
    columns["region"] = rng.choice(["north", "south", "east", "west", "centre"], rows)
    return pd.DataFrame(columns)


def flagged(report: DriftReport) -> list[str]:
    return sorted(c.column for c in report.drifted)


# --- no drift: how often it is found anyway --------------------------------------------------


def test_false_alarm_rates_on_two_halves_of_the_same_data() -> None:
    """200 seeds; 3,000 rows shuffled and halved; 20 numeric and 2 categorical columns.

    Under no drift at all, Benjamini–Hochberg's false discovery rate is its
    family-wise error rate, so a column is flagged in at most ALPHA of the
    comparisons, and the dataset (30% of columns) far less often.
    """
    seeds, columns = 200, 22
    dataset = any_column = columns_bh = columns_raw = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        frame = mixed(rng, 3000).iloc[rng.permutation(3000)]
        report = detect(frame.iloc[:1500], frame.iloc[1500:])
        assert {c.test for c in report.columns} == {"ks", "chi2"}
        dataset += report.dataset_drift
        any_column += bool(report.drifted)
        columns_bh += len(report.drifted)
        columns_raw += sum(c.p_value is not None and c.p_value < ALPHA for c in report.columns)
    rates = {
        "dataset drift": dataset / seeds,
        "any column (BH)": any_column / seeds,
        "per column (BH)": columns_bh / (seeds * columns),
        "per column (uncorrected)": columns_raw / (seeds * columns),
    }
    observed = ", ".join(f"{name} {rate:.4f}" for name, rate in rates.items())
    assert rates["dataset drift"] <= ALPHA, observed
    assert rates["per column (BH)"] <= ALPHA, observed
    # Family-wise: at most ALPHA, up to two binomial standard errors of 200 seeds.
    assert rates["any column (BH)"] <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / seeds), observed
    # Uncorrected p-values are calibrated (conservative where ties are many), not inflated.
    assert rates["per column (uncorrected)"] <= ALPHA + 0.01, observed


def test_no_false_alarm_from_effect_sizes_on_large_halves_of_the_same_data() -> None:
    for seed in range(5):
        rng = np.random.default_rng(seed)
        frame = mixed(rng, 30_000).iloc[rng.permutation(30_000)]
        report = detect(frame.iloc[:15_000], frame.iloc[15_000:])
        assert {c.test for c in report.columns} == {"wasserstein", "jensen_shannon"}
        assert flagged(report) == [], [(c.column, c.statistic) for c in report.drifted]


# --- a known drift: found where it is, and nowhere else -------------------------------------


def test_a_tenth_of_a_std_in_5_of_20_columns_at_a_million_rows(million: Shifted) -> None:
    report = detect(million.reference, million.current)
    tests = {c.column: c.test for c in report.columns}
    assert tests == {f"x{i:02d}": "wasserstein" for i in range(20)} | {
        "plan": "jensen_shannon",
        "region": "jensen_shannon",
    }
    assert flagged(report) == sorted(million.shifted)
    scores = {c.column: c.statistic for c in report.columns}
    for column in million.shifted:  # the normalised distance is the shift itself
        assert scores[column] == pytest.approx(0.1, abs=0.005)
    quiet = [s for c, s in scores.items() if c not in million.shifted]
    assert max(quiet) < 0.01
    assert report.share == pytest.approx(5 / 22)
    assert not report.dataset_drift  # 23% of the columns, under the 30% line
    assert all(c.p_value is None for c in report.columns)


def test_small_samples_use_p_values_with_the_correction() -> None:
    rng = np.random.default_rng(5)
    shifted = ["x01", "x05", "x10", "x13", "x18"]
    reference = numeric_and_categorical(rng, 3000)
    current = numeric_and_categorical(rng, 2000, dict.fromkeys(shifted, 0.3))
    report = detect(reference, current)
    assert {c.column: c.test for c in report.columns} == {f"x{i:02d}": "ks" for i in range(20)} | {
        "plan": "chi2",
        "region": "chi2",
    }
    assert flagged(report) == shifted
    for c in report.columns:
        assert c.p_value is not None
        assert c.p_adjusted is not None
        assert c.p_adjusted >= c.p_value
        assert c.drifted == (c.p_adjusted < ALPHA)
        assert c.threshold == ALPHA


@pytest.mark.parametrize(
    ("reference_rows", "current_rows", "numeric", "categorical"),
    [
        (999, 5000, "ks", "chi2"),
        (5000, 999, "ks", "chi2"),
        (1000, 1000, "wasserstein", "jensen_shannon"),
        (5000, 1000, "wasserstein", "jensen_shannon"),
    ],
)
def test_the_smaller_side_decides_between_p_value_and_effect_size(
    reference_rows: int, current_rows: int, numeric: str, categorical: str
) -> None:
    rng = np.random.default_rng(0)
    reference = numeric_and_categorical(rng, reference_rows)
    current = numeric_and_categorical(rng, current_rows)
    report = detect(reference, current, config=DriftConfig(large_sample=1000))
    assert {c.column: c.test for c in report.columns} == {
        f"x{i:02d}": numeric for i in range(20)
    } | {"plan": categorical, "region": categorical}


def test_missing_values_do_not_count_towards_the_sample_size() -> None:
    reference = pd.DataFrame({"x": [*range(600), *[np.nan] * 600]})
    current = pd.DataFrame({"x": np.arange(1200.0)})
    (column,) = detect(reference, current, config=DriftConfig(large_sample=1000)).columns
    assert (column.test, column.reference_rows, column.current_rows) == ("ks", 600, 1200)


def test_unseen_categories_are_reported_by_name() -> None:
    reference = pd.DataFrame({"plan": ["basic", "plus", "pro"] * 100})
    current = pd.DataFrame({"plan": ["basic", "plus", "enterprise", "trial", None] * 60})
    (column,) = detect(reference, current).columns
    assert column.unseen == ["enterprise", "trial"]
    assert column.drifted
    assert column.current_rows == 240


def test_the_dataset_drifts_from_the_configured_share_of_columns() -> None:
    rng = np.random.default_rng(1)
    reference = numeric_and_categorical(rng, 2000)
    current = numeric_and_categorical(rng, 2000, dict.fromkeys(["x00", "x01", "x02"], 1.0))
    assert len(detect(reference, current).drifted) == 3
    assert not detect(reference, current, config=DriftConfig(share=0.2)).dataset_drift
    assert detect(reference, current, config=DriftConfig(share=3 / 22)).dataset_drift


def test_without_correction_the_raw_p_values_decide() -> None:
    rng = np.random.default_rng(3)
    frame = numeric_and_categorical(rng, 2000)
    report = detect(frame.iloc[:1000], frame.iloc[1000:], config=DriftConfig(correction="none"))
    for c in report.columns:
        assert c.p_adjusted == c.p_value
        assert c.drifted == (c.p_value is not None and c.p_value < ALPHA)


def test_labels_and_predictions_are_compared_apart_from_the_features() -> None:
    rng = np.random.default_rng(4)
    frame = numeric_and_categorical(rng, 1000)
    labels = (np.array(["yes", "no"] * 500), np.array(["yes"] * 800 + ["no"] * 200))
    predictions = (rng.normal(0, 1, 1000), rng.normal(0, 1, 1000))
    report = detect(frame, frame, labels=labels, predictions=predictions)
    assert report.label is not None
    assert report.prediction is not None
    assert (report.label.column, report.label.test, report.label.drifted) == ("label", "chi2", True)
    assert (report.prediction.test, report.prediction.drifted) == ("ks", False)
    assert len(report.columns) == 22
    assert report.drifted == []


# --- choosing tests through the config --------------------------------------------------------


def mean_shift(reference: NumericSample, current: NumericSample, threshold: float) -> Outcome:
    score = abs(current.mean - reference.mean) / reference.std
    return Outcome(score, None, score > threshold, threshold)


def test_a_registered_test_is_used_through_the_config(registry: None) -> None:
    register_test(StatTest("mean_shift", "numeric", False, 0.2, mean_shift, "Mean shift"))
    reference = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0)})
    current = pd.DataFrame({"a": np.arange(100.0) + 10, "b": np.arange(100.0) + 10})
    config = DriftConfig(tests={"a": "mean_shift", "b": "mean_shift"}, thresholds={"b": 0.5})
    a, b = detect(reference, current, config=config).columns
    expected = 10 / np.std(np.arange(100.0))
    assert (a.test, a.statistic, a.threshold, a.drifted) == ("mean_shift", expected, 0.2, True)
    assert (b.test, b.statistic, b.threshold, b.drifted) == ("mean_shift", expected, 0.5, False)


def test_an_unknown_test_in_the_config_names_the_field_and_the_choices() -> None:
    frame = pd.DataFrame({"income": [1.0, 2.0, 3.0]})
    with pytest.raises(
        ConfigError,
        match=r"^monitor\.drift\.tests\.income: unknown drift test 'anderson'\. Allowed: ks, "
        r"wasserstein, psi, chi2, jensen_shannon\. Register a test of your own with "
        r"mlgate\.drift\.register_test before using it\.$",
    ):
        detect(frame, frame, config=DriftConfig(tests={"income": "anderson"}))


@pytest.mark.parametrize(
    ("column", "test", "message"),
    [
        (
            "plan",
            "ks",
            r"^monitor\.drift\.tests\.plan: drift test 'ks' is for numeric columns, but 'plan' "
            r"is categorical\. Allowed: chi2, jensen_shannon\. Choose a test of the column's "
            r"kind\.$",
        ),
        (
            "income",
            "jensen_shannon",
            r"^monitor\.drift\.tests\.income: drift test 'jensen_shannon' is for categorical "
            r"columns, but 'income' is numeric\. Allowed: ks, wasserstein, psi\. Choose a test "
            r"of the column's kind\.$",
        ),
    ],
)
def test_a_test_of_the_wrong_kind_is_a_clear_error(column: str, test: str, message: str) -> None:
    frame = pd.DataFrame({"income": [1.0, 2.0, 3.0], "plan": ["a", "b", "a"]})
    with pytest.raises(ConfigError, match=message):
        detect(frame, frame, config=DriftConfig(tests={column: test}))


def test_thresholds_move_effect_sizes_but_not_the_false_discovery_rate() -> None:
    rng = np.random.default_rng(6)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 500)})
    current = pd.DataFrame({"x": rng.normal(0.3, 1, 500)})
    config = DriftConfig(thresholds={"x": 0.5})
    (small,) = detect(reference, current, config=config).columns
    assert (small.test, small.threshold, small.drifted) == ("ks", ALPHA, True)
    (large,) = detect(
        reference, current, config=config.model_copy(update={"large_sample": 100})
    ).columns
    assert (large.test, large.threshold, large.drifted) == ("wasserstein", 0.5, False)


# --- bad input ------------------------------------------------------------------------------


def test_current_data_without_a_reference_column_is_a_clear_error() -> None:
    reference = pd.DataFrame({"a": [1.0], "b": [2.0], "c": ["x"]})
    with pytest.raises(
        DataError,
        match=r"^the current data lacks column\(s\) 'b', 'c'\. Compare data with the "
        r"reference's columns\.$",
    ):
        detect(reference, pd.DataFrame({"a": [1.0]}))


# --- files, a column at a time ----------------------------------------------------------------


def with_gaps(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The frame with some missing numbers and categories, and an integer column."""
    frame = frame.copy()
    frame.loc[rng.random(len(frame)) < 0.05, "x03"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "plan"] = None
    frame["count"] = rng.poisson(3, len(frame))
    return frame


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(8)
    reference = with_gaps(numeric_and_categorical(rng, 4000), rng)
    current = with_gaps(numeric_and_categorical(rng, 3000, {"x02": 0.5, "x09": 0.5}), rng)
    current.loc[:99, "region"] = "space"
    for name, frame in (("reference", reference), ("current", current)):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    return reference, current


def same_columns(found: DriftReport, expected: DriftReport) -> None:
    assert len(found.columns) == len(expected.columns)
    for a, b in zip(found.columns, expected.columns, strict=True):
        assert a.model_dump(exclude={"statistic", "p_value", "p_adjusted"}) == b.model_dump(
            exclude={"statistic", "p_value", "p_adjusted"}
        )
        assert a.statistic == pytest.approx(b.statistic, rel=1e-12, abs=1e-15)
        for p, q in ((a.p_value, b.p_value), (a.p_adjusted, b.p_adjusted)):
            assert p == (None if q is None else pytest.approx(q, rel=1e-9, abs=1e-300))
    assert found.share == expected.share
    assert found.dataset_drift == expected.dataset_drift


def test_parquet_files_are_read_a_column_at_a_time_and_agree_with_frames(
    tmp_path: Path, two_files: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[str, list[str] | None]] = []

    class Spy(pq.ParquetFile):  # type: ignore[misc]
        def __init__(self, source: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(source, *args, **kwargs)
            self.name = Path(str(source)).name

        def read(self, columns: list[str] | None = None, **kwargs: Any) -> Any:
            reads.append((self.name, columns))
            return super().read(columns=columns, **kwargs)

    monkeypatch.setattr(pq, "ParquetFile", Spy)
    found = detect_files(tmp_path / "reference.parquet", tmp_path / "current.parquet")
    monkeypatch.undo()
    reference, current = two_files
    same_columns(found, detect(reference, current))
    names = list(reference.columns)
    assert sorted(reads) == sorted(
        (f"{side}.parquet", [c]) for side in ("reference", "current") for c in names
    )
    assert (found.reference, found.current) == (
        str(tmp_path / "reference.parquet"),
        str(tmp_path / "current.parquet"),
    )
    assert {"region", "x02", "x09"} <= set(flagged(found))
    (region,) = [c for c in found.columns if c.column == "region"]
    assert region.unseen == ["space"]


def test_csv_files_agree_with_frames(
    tmp_path: Path, two_files: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    found = detect_files(tmp_path / "reference.csv", tmp_path / "current.csv")
    same_columns(found, detect(*two_files))
    mixed_formats = detect_files(tmp_path / "reference.csv", tmp_path / "current.parquet")
    same_columns(mixed_formats, found)


def test_chosen_columns_only(tmp_path: Path, two_files: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    found = detect_files(
        tmp_path / "reference.parquet", tmp_path / "current.parquet", columns=["x02", "plan"]
    )
    assert [c.column for c in found.columns] == ["x02", "plan"]


def test_files_with_mismatched_columns_are_a_clear_error(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0], "b": [1.0]}).to_parquet(tmp_path / "ref.parquet")
    pd.DataFrame({"a": [1.0], "c": [1.0]}).to_parquet(tmp_path / "cur.parquet")
    pd.DataFrame({"z": [1.0]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(
        DataError,
        match=r"^column\(s\) not in both files: the reference lacks 'c'; the current data "
        r"lacks 'b'\.$",
    ):
        detect_files(tmp_path / "ref.parquet", tmp_path / "cur.parquet", columns=["a", "b", "c"])
    with pytest.raises(
        DataError,
        match=r"^.*ref\.parquet and .*other\.parquet: the two datasets share no column\. "
        r"Compare data with the same columns\.$",
    ):
        detect_files(tmp_path / "ref.parquet", tmp_path / "other.parquet")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "ref.parquet")
    with pytest.raises(DataError, match=r"^.*nope\.parquet: file not found\. Check the path\.$"):
        detect_files(tmp_path / "ref.parquet", tmp_path / "nope.parquet")
