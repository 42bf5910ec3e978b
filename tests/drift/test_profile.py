"""Reference profiles: round trips, size, and drift measured against them instead of the data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from drift_data import Shifted

from mlgate.drift import (
    NumericSample,
    Profile,
    build_profile,
    detect,
    get_test,
    sample_of,
)
from mlgate.drift.profile import SKETCH, column_profile, distributions
from mlgate.errors import DataError


def frame_with_gaps(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, rows).round(-2),
            "age": rng.integers(18, 90, rows),
            "score": rng.normal(0, 1, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
            "code": rng.integers(1, 4, rows).astype(float),
        }
    )
    frame.loc[frame.index % 7 == 0, "income"] = np.nan
    frame.loc[frame.index % 11 == 0, "plan"] = None
    frame.loc[frame.index % 13 == 0, "code"] = np.nan
    return frame


KINDS = {
    "income": "numeric",
    "age": "numeric",
    "score": "numeric",
    "plan": "categorical",
    "code": "categorical",
}


def test_a_profile_round_trips_through_its_file(tmp_path: Path) -> None:
    frame = frame_with_gaps(5000)
    profile = build_profile(
        frame,
        KINDS,
        predictions=np.array(["yes", "no"] * 500),
        labels=np.array(["yes"] * 600 + ["no"] * 400),
    )
    path = profile.save(tmp_path / "profile.json")
    again = Profile.load(path)
    assert again == profile
    assert again.model_dump() == json.loads(path.read_text(encoding="utf-8"))
    income = again.columns["income"]
    assert (income.count, income.missing) == (5000 - 715, 715)
    assert len(income.quantiles) == SKETCH
    assert income.quantiles == sorted(income.quantiles)
    assert income.quantiles[0] == frame["income"].min()
    assert income.quantiles[-1] == frame["income"].max()
    assert again.columns["plan"].missing == 455
    assert again.columns["code"].counts.keys() == {"1", "2", "3"}  # not '1.0': gaps made floats


def test_predictions_and_labels_have_profiles_of_their_kind() -> None:
    frame = frame_with_gaps(200)
    classes = build_profile(frame, KINDS, predictions=np.array([0, 1] * 50), labels=[1] * 100)
    assert classes.prediction is not None
    assert classes.label is not None
    assert (classes.prediction.kind, classes.prediction.counts) == (
        "categorical",
        {"0": 50, "1": 50},
    )
    assert classes.label.counts == {"1": 100}
    numbers = build_profile(
        frame,
        KINDS,
        predictions=np.linspace(0, 1, 100),
        prediction_kind="numeric",
        labels=np.linspace(0, 2, 100),
    )
    assert numbers.prediction is not None
    assert numbers.label is not None
    assert (numbers.prediction.kind, numbers.prediction.count) == ("numeric", 100)
    assert numbers.label.mean == pytest.approx(1.0)
    assert build_profile(frame, KINDS).prediction is None


def test_a_small_dataset_is_kept_whole_and_gives_the_same_verdicts() -> None:
    reference, current = frame_with_gaps(SKETCH, seed=1), frame_with_gaps(800, seed=2)
    profile = build_profile(reference, KINDS)
    assert profile.columns["score"].quantiles == sorted(reference["score"])
    assert detect(profile, current).columns == detect(reference, current, kinds=KINDS).columns


def test_the_profile_of_a_million_rows_is_small(million: Shifted, tmp_path: Path) -> None:
    """About 770 KB for 20 numeric and 2 categorical columns (38.5 KB a numeric column),
    whatever the number of rows: it holds 2,001 order statistics per numeric column."""
    kinds = dict.fromkeys(million.reference.columns[:20], "numeric") | {
        "plan": "categorical",
        "region": "categorical",
    }
    path = build_profile(million.reference, kinds).save(tmp_path / "profile.json")
    size = path.stat().st_size
    smaller = build_profile(million.reference.iloc[:100_000], kinds).save(tmp_path / "small.json")
    assert size < 1_000_000, f"{size:,} bytes"
    assert size < 1.05 * smaller.stat().st_size, f"{size:,} against {smaller.stat().st_size:,}"
    assert Profile.load(path).rows == 1_000_000


# --- drift against a profile's sketch agrees with drift against the data ----------------------

Shape = Callable[[np.random.Generator, int, float], Any]
SHAPES: dict[str, Shape] = {
    "normal": lambda rng, n, shift: rng.normal(shift, 1, n),
    "lognormal": lambda rng, n, shift: rng.lognormal(shift, 1, n),
    "counts": lambda rng, n, shift: rng.poisson(3 + 5 * shift, n).astype(float),
    "uniform": lambda rng, n, shift: rng.uniform(shift, 1 + shift, n),
    "rounded": lambda rng, n, shift: rng.normal(shift, 1, n).round(1),
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(("reference_rows", "current_rows"), [(200_000, 5000), (50_000, 50_000)])
@pytest.mark.parametrize("shift", [0.0, 0.05])
def test_ks_and_wasserstein_against_a_sketch_are_within_its_resolution(
    shape: str, reference_rows: int, current_rows: int, shift: float
) -> None:
    """The sketch's CDF is within 1/2,000 of the data's, so KS moves by at most that;
    each 1/2,000 of the rows lies between two neighbouring order statistics, so the
    Wasserstein distance moves by at most (max - min) / 2,000."""
    rng = np.random.default_rng(sum(map(ord, shape)))
    data = SHAPES[shape](rng, reference_rows, 0.0)
    current = NumericSample.of(SHAPES[shape](rng, current_rows, shift))
    raw, sketch = NumericSample.of(data), sample_of(column_profile(data, "numeric"))
    assert sketch.is_sketch
    steps = SKETCH - 1
    for name, tolerance in (
        ("ks", 1 / steps + 1 / reference_rows),
        ("wasserstein", (data.max() - data.min()) / steps / data.std()),
    ):
        exact = get_test(name).run(raw, current, 0.05).statistic
        approx = get_test(name).run(sketch, current, 0.05).statistic
        assert abs(approx - exact) <= tolerance, (name, exact, approx, tolerance)


def test_drift_against_a_profile_finds_what_drift_against_the_data_finds() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({f"x{i}": rng.normal(0, 1, 100_000) for i in range(4)})
    current = pd.DataFrame({f"x{i}": rng.normal(0.1 * (i < 2), 1, 5000) for i in range(4)})
    profile = build_profile(reference, dict.fromkeys(reference.columns, "numeric"))
    by_profile, by_data = detect(profile, current), detect(reference, current)
    assert [c.drifted for c in by_profile.columns] == [c.drifted for c in by_data.columns]
    assert [c.drifted for c in by_data.columns] == [True, True, False, False]
    for a, b in zip(by_profile.columns, by_data.columns, strict=True):
        assert a.statistic == pytest.approx(b.statistic, abs=1 / 2000)
        assert (a.reference_rows, a.reference_mean) == (b.reference_rows, b.reference_mean)


def test_categories_stored_as_floats_match_a_profile_of_integers() -> None:
    profile = build_profile(pd.DataFrame({"code": [1, 2, 3] * 100}), {"code": "categorical"})
    current = pd.DataFrame({"code": [1.0, 2.0, 3.0, np.nan] * 50})
    (column,) = detect(profile, current).columns
    assert column.unseen == []
    assert not column.drifted


# --- mistakes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"not JSON \(Expecting property name enclosed in double quotes, line 1\)"),
        ('{"rows": 10}', r"not a drift profile \(columns: Field required\)"),
        ("[1, 2]", r"not a drift profile \(the top level: Input should be a valid dictionary"),
    ],
)
def test_a_file_that_is_not_a_profile_is_a_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "profile.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: {message}.*\. Pass a profile\.json that "):
        Profile.load(path)


def test_a_missing_profile_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(DataError, match=rf"^{path}: file not found\. Check the path\.$"):
        Profile.load(path)


def test_columns_the_profile_lacks_are_a_clear_error() -> None:
    profile = build_profile(frame_with_gaps(100), KINDS)
    frame = frame_with_gaps(100)
    with pytest.raises(
        DataError,
        match=r"^the reference profile has no column\(s\) 'height'\. Compare only columns "
        r"the model was trained on\.$",
    ):
        detect(profile, frame.assign(height=1.0), kinds={"height": "numeric"})
    with pytest.raises(DataError, match=r"^column\(s\) 'plan' have another kind"):
        detect(profile, frame, kinds={"plan": "numeric"})


def test_distributions_put_two_numeric_columns_side_by_side_at_every_5th_percentile() -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.normal(0, 1, 5000), rng.normal(0.5, 2, 300)
    shown = distributions(column_profile(reference, "numeric"), column_profile(current, "numeric"))
    assert shown["kind"] == "numeric"
    assert shown["levels"] == [float(p) for p in range(0, 101, 5)]
    # The sketch is within 1/2,000 of the data in rank: close to the exact percentiles.
    assert np.allclose(shown["reference"], np.percentile(reference, shown["levels"]), atol=0.02)
    assert np.allclose(shown["current"], np.percentile(current, shown["levels"]))


def test_distributions_of_a_categorical_column_name_only_the_reference_categories() -> None:
    reference = ["a"] * 6 + ["b"] * 3 + ["c"]
    current = ["b"] * 2 + ["c"] * 2 + ["someone@example.com"] * 4  # a value never seen
    shown = distributions(
        column_profile(reference, "categorical"), column_profile(current, "categorical")
    )
    assert shown == {
        "kind": "categorical",
        "categories": ["a", "b", "c", "(other)"],
        "reference": [0.6, 0.3, 0.1, 0.0],
        "current": [0.0, 0.25, 0.25, 0.5],
    }


def test_distributions_of_an_empty_current_column_have_no_values() -> None:
    shown = distributions(column_profile([1.0, 2.0], "numeric"), column_profile([], "numeric"))
    assert shown["current"] == [None] * 21
