"""`mlgate.scoring.score` on a real local Spark (`local[2]`): the local engine's output,
refusals and prediction log, from partitions scored on the executors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlgate.cli import app
from mlgate.errors import ConfigError
from mlgate.project import Project
from mlgate.scoring import score

CHAMPION = "models:/credit-risk@champion"


def opened(config: Path) -> Project:
    return Project.open(config, required=False, create=False)


def _bad_rows(config: Path, target: Path) -> None:
    """The test rows with a customer id and four refused rows (3, 7, 50, 51), as Parquet
    in three files so Spark reads more than one partition."""
    frame = pd.read_csv(config.parent / "data" / "test.csv").astype(object)
    frame.loc[3, "age"] = "forty"
    frame.loc[7, "credit_score"] = "1e40"
    frame.loc[50, "region"] = None
    frame.loc[51, "age"] = "inf"
    frame.insert(0, "customer", [f"c{i:04d}" for i in range(len(frame))])
    target.mkdir()
    for part, start in enumerate(range(0, len(frame), 40)):
        frame.iloc[start : start + 40].astype(str).replace("None", None).to_parquet(
            target / f"part-{part}.parquet", index=False
        )


def test_spark_gives_the_local_engines_predictions_and_refusals(
    spark: Any, project: Path, tmp_path: Path
) -> None:
    _bad_rows(project, tmp_path / "bad")
    runs = {}
    with opened(project) as p:
        for engine in ("local", "spark"):
            runs[engine] = score(
                p,
                CHAMPION,
                str(tmp_path / "bad"),
                str(tmp_path / engine),
                engine=engine,  # type: ignore[arg-type]
                id_column="customer",
                batch_rows=16,
            )
    local, remote = runs["local"], runs["spark"]
    assert remote.engine == "spark"
    assert (remote.rows_read, remote.rows_scored, remote.rows_skipped) == (120, 116, 4)
    assert remote.refusals == local.refusals
    assert remote.refusal_codes == local.refusal_codes
    expected = pq.read_table(tmp_path / "local")
    table = pq.read_table(tmp_path / "spark")
    assert table.schema.names == expected.schema.names
    assert table.schema.metadata[b"mlgate.classes"] == expected.schema.metadata[b"mlgate.classes"]
    got = table.to_pandas().sort_values("row_id").reset_index(drop=True)
    want = expected.to_pandas()
    assert got["customer"].tolist() == want["customer"].tolist()
    assert got["row_id"].tolist() == want["row_id"].tolist()
    assert got["prediction"].tolist() == want["prediction"].tolist()
    assert [list(r) for r in got["probabilities"]] == [list(r) for r in want["probabilities"]]
    assert set(got["version"]) == {"1"}


def test_spark_strict_writes_nothing_and_log_reaches_the_prediction_log(
    spark: Any, project: Path, tmp_path: Path
) -> None:
    _bad_rows(project, tmp_path / "bad")
    with opened(project) as p:
        strict = score(
            p, CHAMPION, str(tmp_path / "bad"), str(tmp_path / "out"), engine="spark", strict=True
        )
        assert not strict.complete
        assert strict.output is None
        assert not (tmp_path / "out").exists()
        assert [f for f in tmp_path.iterdir() if f.name.startswith(".out")] == []
        logged = score(
            p, CHAMPION, "data/test.csv", str(tmp_path / "logged"), engine="spark", log=True
        )
    assert logged.complete
    assert logged.rows_scored == logged.rows_logged == 120
    assert logged.role == "champion"
    scored = pq.read_table(tmp_path / "logged").to_pandas()
    assert set(scored["request_id"]) == {logged.request_id}
    assert sorted(scored["row_id"]) == list(range(120))
    segments = list(Path(p.log_root).rglob("*.parquet"))
    logged_rows = pd.concat([pd.read_parquet(s) for s in segments])
    assert len(logged_rows[logged_rows["request_id"] == logged.request_id]) == 120


def test_spark_reads_a_table_by_name(spark: Any, project: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(project.parent / "data" / "test.csv")
    spark.createDataFrame(frame).createOrReplaceTempView("applicants")
    with opened(project) as p:
        result = score(p, CHAMPION, "applicants", str(tmp_path / "out"), engine="spark")
    assert (result.rows_read, result.rows_scored) == (120, 120)


def test_spark_writes_a_folder_not_a_file(
    spark: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a short OUTPUT: a long value is shortened in messages
    with (
        opened(project) as p,
        pytest.raises(
            ConfigError,
            match=r"^OUTPUT: the spark engine writes a folder of part files, one per partition\. "
            r"Got 'o\.parquet'\. "
            r"Name a folder \(without \.parquet\) for OUTPUT\.$",
        ),
    ):
        score(p, CHAMPION, str(project.parent / "data/test.csv"), "o.parquet", engine="spark")
    assert not (tmp_path / "o.parquet").exists()


def test_an_output_under_a_file_is_named_as_given_not_by_spark_s_staging(
    spark: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("", encoding="utf-8")
    with (
        opened(project) as p,
        pytest.raises(
            ConfigError,
            match=r"^afile/out: OUTPUT: cannot write the output: a part of its path is a "
            r"file, not a folder\.",
        ),
    ):
        score(p, CHAMPION, str(project.parent / "data/test.csv"), "afile/out", engine="spark")


def test_without_pyspark_the_spark_engine_is_a_usage_error_naming_the_extra(
    project: Path,
) -> None:
    blocked = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None\n"
        "from mlgate.cli import main\n"
        "sys.argv = ['mlgate', 'score', 'models:/credit-risk@champion', 'data/test.csv', "
        "'out', '--engine', 'spark']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: --engine: the spark engine needs pyspark, which is not installed. Got 'spark'. "
        "Install it with `pip install 'mlgate[spark]'`, or use --engine local."
    )
    assert not Path("out").exists()


#: Features whose names Spark would read as a struct's field (a dot) or not parse (a space).
ODD_NAMES = {"income.monthly": "numeric", "years employed": "numeric", "home region": "categorical"}


def _odd_bundle(folder: Path) -> pd.DataFrame:
    """A forest saved as `mlgate run` saves one, on features named with dots and spaces;
    60 rows to score, as Parquet in two files."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from registry.catalog_support import save_classifier

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "income.monthly": rng.normal(3000, 500, 200).round(2),
            "years employed": rng.integers(0, 30, 200),
            "home region": rng.choice(["north", "south"], 200),
        }
    )
    signal = frame["income.monthly"] + 30 * frame["years employed"] + rng.normal(0, 300, 200)
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    labels = np.where(signal > 3400, "yes", "no")
    save_classifier(forest, frame, labels, ODD_NAMES, folder / "model", name="odd")
    (folder / "rows").mkdir()
    frame.iloc[:30].to_parquet(folder / "rows" / "part-0.parquet", index=False)
    frame.iloc[30:60].to_parquet(folder / "rows" / "part-1.parquet", index=False)
    return frame.iloc[:60]


def test_spark_scores_columns_named_with_dots_and_spaces_as_the_local_engine(
    spark: Any, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _odd_bundle(tmp_path)
    monkeypatch.chdir(tmp_path)
    for engine, output in (("local", "local.parquet"), ("spark", "spark")):
        done = runner.invoke(app, ["score", "model", "rows", output, "--engine", engine])
        assert done.exit_code == 0, done.output
    want = pq.read_table(tmp_path / "local.parquet").to_pandas()
    got = pq.read_table(tmp_path / "spark").to_pandas().sort_values("row_id")
    assert got["row_id"].tolist() == want["row_id"].tolist() == list(range(60))
    assert got["prediction"].tolist() == want["prediction"].tolist()
    assert [list(r) for r in got["probabilities"]] == [list(r) for r in want["probabilities"]]
