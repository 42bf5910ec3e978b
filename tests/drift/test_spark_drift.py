"""`drift --engine spark` and profiles built on a real local Spark (`local[2]`): the local
engine's verdicts, with statistics within the tolerance docs/scale.md states."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.config.monitor import DriftConfig
from mlgate.drift.profile import build_profile
from mlgate.drift.spark_profile import RELATIVE_ERROR, spark_profile
from mlgate.monitor.check import check_drift

#: How far a Spark statistic may be from the local engine's: a sketch's CDF is within
#: 1/2,000 + RELATIVE_ERROR of the data's on each side (docs/scale.md).
TOLERANCE = 2 * (1 / 2000 + RELATIVE_ERROR)


def _frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    """Numbers, whole numbers, text and flags; `shift` moves `b` and the shares of `c`."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(0, 1, rows),
            "b": rng.normal(shift, 1, rows),
            "n": rng.integers(0, 5, rows),
            "c": rng.choice(["x", "y", "z"], rows, p=[0.5 - shift, 0.3, 0.2 + shift]),
            "d.x": rng.choice(["p", "q"], rows),
            "flag": rng.random(rows) < 0.5,
            "y": rng.integers(0, 2, rows),
        }
    )
    frame.loc[::97, "a"] = np.nan
    frame.loc[5, "a"], frame.loc[6, "a"] = np.inf, -np.inf
    return frame


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The same verdict on a column: equal fields, numbers to their last bits or so."""
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert got[key] == value, key


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ref.parquet and cur.parquet of 6,000 rows (b and c drift), and small ones of 1,500."""
    folder = tmp_path_factory.mktemp("drift")
    for rows, name in ((6000, ""), (1500, "small-")):
        _frame(rows, 1, 0.0).to_parquet(folder / f"{name}ref.parquet")
        _frame(rows, 2, 0.3).to_parquet(folder / f"{name}cur.parquet")
    return folder


def test_spark_profile_holds_the_local_profiles_statistics(spark: Any, files: Path) -> None:
    kinds = {"a": "numeric", "b": "numeric", "c": "categorical", "flag": "categorical"}
    local = build_profile(pd.read_parquet(files / "ref.parquet"), kinds)
    remote = spark_profile(spark.read.parquet(str(files / "ref.parquet")), kinds)
    assert remote.rows == local.rows == 6000
    for name in kinds:
        got, want = remote.columns[name], local.columns[name]
        assert (got.kind, got.count, got.missing, got.counts) == (
            want.kind,
            want.count,
            want.missing,
            want.counts,
        )
    assert remote.columns["a"].missing == 6000 // 97 + 1 + 2
    for name in ("a", "b"):
        got, want = remote.columns[name], local.columns[name]
        assert got.mean == pytest.approx(want.mean, rel=1e-12)
        assert got.std == pytest.approx(want.std, rel=1e-12)
        assert len(got.quantiles) == len(want.quantiles) == 2001
        # Each sketched value's rank is within the tolerance of its level.
        data = np.sort(pd.read_parquet(files / "ref.parquet")[name].to_numpy())
        data = data[np.isfinite(data)]
        ranks = np.searchsorted(data, got.quantiles, side="right") / data.size
        assert np.abs(ranks - np.linspace(0, 1, 2001)).max() <= 1 / 2000 + RELATIVE_ERROR


@pytest.mark.parametrize("large_sample", [10_000, 1000])
def test_spark_flags_the_local_engines_columns(spark: Any, files: Path, large_sample: int) -> None:
    config = DriftConfig(large_sample=large_sample)
    ref, cur = str(files / "ref.parquet"), str(files / "cur.parquet")
    local = check_drift(ref, cur, config=config, target="y")
    remote = check_drift(ref, cur, config=config, target="y", engine="spark")

    assert [c.column for c in local.drifted] == ["b", "c"]
    assert [(c.column, c.test, c.drifted) for c in remote.columns] == [
        (c.column, c.test, c.drifted) for c in local.columns
    ]
    pairs = zip([*remote.columns, remote.label], [*local.columns, local.label], strict=True)
    for got, want in pairs:
        assert got is not None
        assert want is not None
        assert (got.reference_rows, got.current_rows) == (want.reference_rows, want.current_rows)
        if want.kind == "categorical":  # counts, not sketches: the same numbers
            _same(got.model_dump(), want.model_dump())
        else:
            assert got.statistic == pytest.approx(want.statistic, abs=TOLERANCE)
            assert got.current_mean == pytest.approx(want.current_mean, rel=1e-12)
    assert remote.label is not None
    assert remote.label.column == "y"
    assert remote.dataset_drift == local.dataset_drift


def test_cli_drift_on_spark_against_a_profile_writes_the_reports(
    spark: Any, files: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kinds = dict.fromkeys(("a", "b", "n"), "numeric") | {"c": "categorical"}
    build_profile(pd.read_parquet(files / "small-ref.parquet"), kinds).save(
        tmp_path / "profile.json"
    )
    reports = {}
    for engine in ("local", "spark"):
        result = runner.invoke(
            app,
            [
                "drift",
                "profile.json",
                str(files / "small-cur.parquet"),
                "--engine",
                engine,
                "--json",
                "--fail-on-drift",
                "--html",
                f"{engine}.html",
                "--markdown",
                f"{engine}.md",
            ],
        )
        assert result.exit_code == 1, result.output
        reports[engine] = json.loads(result.stdout)
        assert "<img" in (tmp_path / f"{engine}.html").read_text(encoding="utf-8")
    # At most 2,001 values a column, both engines keep them all: the same report.
    for got, want in zip(reports["spark"]["columns"], reports["local"]["columns"], strict=True):
        _same(got, want)
    assert [c["column"] for c in reports["spark"]["columns"] if c["drifted"]] == ["b", "c"]
    assert (tmp_path / "spark.md").read_text(encoding="utf-8") == (tmp_path / "local.md").read_text(
        encoding="utf-8"
    )
