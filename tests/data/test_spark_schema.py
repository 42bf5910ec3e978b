"""`schema infer --engine spark` on a real local Spark (`local[2]`): the local engine's
schema, measured per partition and merged on the driver."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.data.infer import infer_schema
from mlgate.data.spark_schema import infer_schema_spark


def _table(rows: int = 400) -> pl.DataFrame:
    """Ints, floats with NaN, missing values and inf, few and many texts, flags, times,
    and repeated rows."""
    rng = np.random.default_rng(7)
    income = rng.lognormal(3, 1, rows)
    income[[3, 50, 51]] = [math.nan, math.inf, math.nan]
    frame = pl.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "income": income,
            "region": rng.choice(["north", "south", "east"], rows).tolist(),
            "code": [f"c{i % 120}" for i in range(rows)],
            "flag": rng.random(rows) < 0.3,
            "seen.at": [dt.datetime(2024, 1, 1) + dt.timedelta(hours=int(h)) for h in range(rows)],
        }
    ).with_columns(
        pl.when(pl.int_range(rows) % 37 == 0).then(None).otherwise(pl.col("region")).alias("region")
    )
    return pl.concat([frame, frame[10:14]])


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The table as one Parquet file, and as five files in a folder beside it."""
    folder = tmp_path_factory.mktemp("infer")
    frame = _table()
    frame.write_parquet(folder / "one.parquet")
    (folder / "parts").mkdir()
    for number, start in enumerate(range(0, frame.height, 90)):
        frame[start : start + 90].write_parquet(folder / "parts" / f"part-{number}.parquet")
    return folder


def test_spark_infers_the_local_engines_schema(spark: Any, table: Path) -> None:
    local = infer_schema(pl.read_parquet(table / "one.parquet"))
    remote, rows = infer_schema_spark(spark.read.parquet(str(table / "parts")))

    assert rows == 404
    assert remote.to_yaml() == local.to_yaml()
    assert remote.columns["income"].allow_inf
    assert remote.columns["region"].categories == ["east", "north", "south"]
    assert remote.columns["code"].categories is None
    assert remote.dataset.max_duplicate_rate is not None


def test_cli_schema_infer_on_spark_writes_the_local_schema(
    spark: Any, table: Path, runner: CliRunner, tmp_path: Path
) -> None:
    written = {}
    for engine in ("local", "spark"):
        path = tmp_path / f"{engine}.yaml"
        result = runner.invoke(
            app,
            ["schema", "infer", str(table / "one.parquet"), "-o", str(path), "--engine", engine],
        )
        assert result.exit_code == 0, result.output
        assert result.stderr == f"wrote {path}: 6 columns from 404 rows\n"
        written[engine] = path.read_text(encoding="utf-8")
    assert written["spark"] == written["local"]


def test_spark_inference_of_an_empty_table_says_so(spark: Any, tmp_path: Path) -> None:
    from mlgate.errors import DataError

    _table().head(0).write_parquet(tmp_path / "empty.parquet")
    with pytest.raises(DataError, match=r"the data has a header but no rows\."):
        infer_schema_spark(spark.read.parquet(str(tmp_path / "empty.parquet")))
