"""`validate --engine spark` on a real local Spark (`local[2]`): the local engine's
violations, row numbers and example values included, from Spark aggregations."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.data.schema import Schema
from mlgate.data.validate import validate_file
from mlgate.errors import DataError

#: Every kind of violation the rules know, in one table.
RULES = {
    "columns": {
        "age": {"dtype": "int", "min": 18, "max": 99, "mean_max": 40},
        "income": {"dtype": "float", "max_missing_rate": 0.005, "std_max": 5},
        "colour": {"dtype": "string", "categories": ["red", "green", "blue"], "nullable": False},
        "score": {"dtype": "int"},
        "whole": {"dtype": "int", "min": 0},
        "amount": {"dtype": "float"},
        "flag": {"dtype": "bool", "categories": [True]},
        "gone": {"dtype": "float"},
    },
    "_global": {"max_duplicates": 0, "max_rows": 100},
}


def _broken(rows: int = 300) -> pl.DataFrame:
    """A table that breaks every rule of RULES, with two repeated rows at its end."""
    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, rows).astype(float)
    age[[5, 77, 210]] = [-3, 150, 200]
    income = rng.normal(50, 10, rows)
    income[[9, 100, 11, 12, 13]] = [math.inf, math.nan, math.nan, math.nan, -math.inf]
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    colour[[4, 250]] = ["pink", None]
    score = rng.normal(0, 1, rows).round(1)
    whole = rng.integers(0, 9, rows).astype(float)
    amount = [str(i) for i in range(rows)]
    amount[17], amount[123] = "abc", "1,5"
    flag = rng.random(rows) < 0.9
    frame = pl.DataFrame(
        {
            "age": age,
            "income": income,
            "colour": colour.tolist(),
            "score": score,
            "whole": whole,
            "amount": amount,
            "flag": flag,
            "extra.id": np.arange(rows),  # a dot: a name, not a field
        }
    )
    return pl.concat([frame, frame[20:22]])


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The broken table as one Parquet file, and in a folder beside it as four files."""
    folder = tmp_path_factory.mktemp("validate")
    frame = _broken()
    frame.write_parquet(folder / "one.parquet")
    (folder / "parts").mkdir()
    for number, start in enumerate(range(0, frame.height, 80)):
        frame[start : start + 80].write_parquet(folder / "parts" / f"part-{number}.parquet")
    return folder


def _same(local: list[dict[str, Any]], remote: list[dict[str, Any]]) -> None:
    """Equal violations; a mean or deviation is summed in another order, so its last
    bits may differ (its message, rounded to six digits, may not)."""
    assert [(v["column"], v["rule"]) for v in remote] == [(v["column"], v["rule"]) for v in local]
    for got, want in zip(remote, local, strict=True):
        if want["rule"] in ("mean_out_of_range", "std_out_of_range"):
            assert got["observed"] == pytest.approx(want["observed"], rel=1e-12)
            got, want = got | {"observed": None}, want | {"observed": None}
        assert got == want


@pytest.mark.parametrize("where", ["one.parquet", "parts"])
def test_spark_finds_the_local_engines_violations(spark: Any, broken: Path, where: str) -> None:
    schema = Schema.model_validate(RULES)
    local = validate_file(broken / where, schema)
    remote = validate_file(broken / where, schema, engine="spark")

    assert {v.rule for v in local.violations} == {
        "dtype",
        "missing_column",
        "unexpected_column",
        "below_min",
        "above_max",
        "not_finite",
        "unknown_category",
        "missing_rate",
        "mean_out_of_range",
        "std_out_of_range",
        "row_count",
        "duplicates",
    }
    assert (remote.rows, remote.columns, remote.passed) == (302, 8, False)
    _same(
        [v.model_dump(mode="json") for v in local.violations],
        [v.model_dump(mode="json") for v in remote.violations],
    )
    dtype = next(v for v in remote.violations if v.column == "amount")
    assert [(e.row, e.value) for e in dtype.examples] == [(17, "abc"), (123, "1,5")]
    duplicates = next(v for v in remote.violations if v.rule == "duplicates")
    assert [e.row for e in duplicates.examples] == [300, 301]


def test_clean_data_passes_on_both_engines(spark: Any, broken: Path) -> None:
    frame = _broken()[20:40].drop("extra.id", "amount", "score")
    frame.write_parquet(broken / "clean.parquet")
    rules = {
        "age": {"dtype": "int", "min": 18, "max": 99},
        "income": {"dtype": "float", "allow_inf": True},
        "colour": {"categories": ["red", "green", "blue", "pink"]},
        "whole": {"dtype": "int", "min": 0, "mean_min": 0},
        "flag": {"dtype": "bool"},
    }
    schema = Schema.model_validate({"columns": rules, "_global": {"max_duplicates": 0}})
    local = validate_file(broken / "clean.parquet", schema)
    remote = validate_file(broken / "clean.parquet", schema, engine="spark")
    assert local.passed
    assert remote.passed
    assert (remote.rows, remote.columns) == (local.rows, local.columns) == (20, 5)


def test_cli_takes_the_engine_from_the_config_and_the_flag_overrides_it(
    spark: Any, broken: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Schema.model_validate(RULES).save(tmp_path / "schema.yaml")
    (tmp_path / "train.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "mlgate.yaml").write_text(
        "name: t\nschema: schema.yaml\n"
        "data: {train: train.csv, target: b, engine: spark, spark: {spark.app.name: t}}\n"
        "model: {estimator: sklearn.linear_model.LogisticRegression}\n",
        encoding="utf-8",
    )
    for where in ("one.parquet", "parts"):
        reports = {}
        for flag in ([], ["--engine", "local"]):
            result = runner.invoke(app, ["validate", str(broken / where), "--json", *flag])
            assert result.exit_code == 1, result.output
            reports[tuple(flag)] = json.loads(result.stdout)
        _same(reports[()]["violations"], reports[("--engine", "local")]["violations"])


def test_a_session_mlgate_starts_keeps_spark_off_the_terminal(
    tmp_path: Path, spark_env: dict[str, str]
) -> None:
    # Its own process: the session under test is the one mlgate starts, not the suite's.
    pytest.importorskip("pyspark")
    (tmp_path / "rows").mkdir()
    pl.DataFrame({"a": [1, 2, -3]}).write_parquet(tmp_path / "rows" / "part-0.parquet")
    Schema.model_validate({"columns": {"a": {"dtype": "int", "min": 0}}}).save(
        tmp_path / "schema.yaml"
    )
    args = ["rows", "--schema", "schema.yaml", "--engine", "spark", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "validate", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=spark_env,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["violations"][0]["rule"] == "below_min", done.stderr
    # The JVM's own notice of the incubator module Spark 4 loads is all that is left.
    assert [
        line
        for line in done.stderr.splitlines()
        if line != "WARNING: Using incubator modules: jdk.incubator.vector"
    ] == []


def test_a_damaged_parquet_file_is_one_data_error(spark: Any, tmp_path: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes(b"garbage\n")
    schema = Schema.model_validate({"columns": {"a": {"dtype": "int"}}})

    with pytest.raises(DataError) as caught:
        validate_file(folder, schema, engine="spark")
    assert str(caught.value) == (
        f"{folder}: Spark cannot read it as PARQUET: [FAILED_READ_FILE.CANNOT_READ_FILE_FOOTER] "
        f"Encountered error while reading file file:{folder}/part-0.parquet. Could not read "
        "footer. Please ensure that the file is in either ORC or Parquet format. "
        "Name a Parquet or CSV file or folder Spark can reach, or a table."
    )


def test_duplicates_count_as_distinct_does_on_both_engines(spark: Any, broken: Path) -> None:
    # -0.0 is 0.0 and NaN is NaN, as both engines compare rows; a missing value moved to
    # another column makes another row. Rows are grouped by a digest first on Spark.
    pl.DataFrame(
        {
            "a": [0.0, -0.0, math.nan, math.nan, 1.0, None, 2.0, 2.0, 3.0, 4.0],
            "b": [1.0, 1.0, 5.0, 5.0, None, 1.0, 7.0, 7.0, 3.0, 4.0],
            "c": ["x", "x", "y", "y", None, None, "z", "z", None, "w"],
        }
    ).write_parquet(broken / "alike.parquet")
    rules = {"a": {"dtype": "float"}, "b": {"dtype": "float"}, "c": {}}
    schema = Schema.model_validate({"columns": rules, "_global": {"max_duplicates": 0}})
    found = {}
    for engine in ("local", "spark"):
        report = validate_file(broken / "alike.parquet", schema, engine=engine)
        (duplicates,) = [v for v in report.violations if v.rule == "duplicates"]
        found[engine] = (duplicates.count, [e.row for e in duplicates.examples])
    assert found["spark"] == found["local"] == (3, [1, 3, 7])
    unique = pl.DataFrame({"a": [1.0, None, 2.0], "b": [None, 1.0, 2.0], "c": ["x", "x", None]})
    unique.write_parquet(broken / "unique.parquet")
    assert validate_file(broken / "unique.parquet", schema, engine="spark").passed


def test_a_csv_the_local_engine_refuses_for_its_header_is_refused_alike_on_spark(
    spark: Any, broken: Path
) -> None:
    # Spark would read an empty file as no rows and rename repeated names (a0, a2).
    (broken / "empty.csv").write_text("", encoding="utf-8")
    (broken / "twice.csv").write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    (broken / "csvparts").mkdir()
    (broken / "csvparts" / "p1.csv").write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    schema = Schema.model_validate({"columns": {"a": {"dtype": "int"}, "b": {"dtype": "int"}}})
    for where in ("empty.csv", "twice.csv", "csvparts"):
        messages = []
        for engine in ("local", "spark"):
            with pytest.raises(DataError) as refused:
                validate_file(broken / where, schema, engine=engine)
            messages.append(str(refused.value))
        assert messages[0] == messages[1], where
        assert (
            "the file is empty." in messages[0]
            or "column names appear more than once: 'a'." in messages[0]
        ), messages[0]
