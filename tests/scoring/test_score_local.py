"""`mlgate.scoring.score` with the local engine, on a real registry: the gateway's answers,
the gateway's refusals, bounded batches, and an output that appears whole or not at all."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlgate.config.loader import load_config
from mlgate.errors import ConfigError, DataError
from mlgate.project import Project
from mlgate.scoring import score
from mlgate.serving.app import create_app
from mlgate.serving.gateway import Gateway

CHAMPION = "models:/credit-risk@champion"


def opened(config: Path) -> Project:
    return Project.open(config, required=False, create=False)


def test_scores_every_row_as_the_gateway_answers_it(project: Path, tmp_path: Path) -> None:
    rows = pd.read_csv(project.parent / "data" / "test.csv")
    output = tmp_path / "scored.parquet"
    with opened(project) as p:
        result = score(p, CHAMPION, "data/test.csv", str(output))
    assert (result.complete, result.rows_read, result.rows_scored) == (True, len(rows), len(rows))
    assert result.version == "1"
    assert result.output == str(output)
    table = pq.read_table(output)
    assert table.column_names == ["row_id", "prediction", "probabilities", "version"]
    assert json.loads(table.schema.metadata[b"mlgate.classes"]) == ["0", "1"]
    scored = table.to_pandas()
    assert scored["row_id"].tolist() == list(range(len(rows)))
    assert set(scored["version"]) == {"1"}
    answer = _gateway_answer(project, rows.drop(columns=["default"]))
    assert scored["prediction"].tolist() == answer["predictions"]
    assert [list(p) for p in scored["probabilities"]] == answer["probabilities"]
    assert answer["version"] == "1"


def _gateway_answer(config: Path, frame: pd.DataFrame) -> dict[str, Any]:
    """The gateway's /predict answer for `frame`'s rows, in-process."""
    with Project.open(load_config(config)) as p:
        gateway = Gateway(p, convert=False)
        gateway.load()

        async def ask() -> dict[str, Any]:
            transport = httpx.ASGITransport(app=create_app(gateway))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
                records = frame.astype(object).where(frame.notna(), None)
                response = await c.post(
                    "/predict", json={"instances": records.to_dict(orient="records")}
                )
                assert response.status_code == 200, response.text
                answer: dict[str, Any] = response.json()
                return answer

        try:
            return asyncio.run(ask())
        finally:
            gateway.close()


def _with_bad_rows(config: Path, target: Path) -> pd.DataFrame:
    """The test rows with a customer id column and four refused rows: 3, 7, 50, 51."""
    frame = pd.read_csv(config.parent / "data" / "test.csv").astype(object)
    frame.loc[3, "age"] = "forty"
    frame.loc[7, "credit_score"] = "1e40"
    frame.loc[50, "region"] = None
    frame.loc[51, "age"] = "inf"
    frame.insert(0, "customer", [f"c{i:04d}" for i in range(len(frame))])
    frame.to_csv(target, index=False)
    return frame


def test_a_refused_row_is_skipped_with_its_row_id_and_the_gateways_reason(
    project: Path, tmp_path: Path
) -> None:
    frame = _with_bad_rows(project, tmp_path / "bad.csv")
    with opened(project) as p:
        result = score(
            p, CHAMPION, str(tmp_path / "bad.csv"), str(tmp_path / "out"), id_column="customer"
        )
    assert result.complete
    assert (result.rows_read, result.rows_scored, result.rows_skipped) == (len(frame), 116, 4)
    assert [(r.row_id, r.code, r.feature) for r in result.refusals] == [
        (3, "not_a_number", "age"),
        (7, "out_of_range", "credit_score"),
        (50, "missing_value", "region"),
        (51, "not_finite", "age"),
    ]
    assert result.refusals[0].reason == "feature 'age' in row 3 must be a number, got \"forty\""
    assert result.refusal_codes == {
        "not_a_number": 1,
        "out_of_range": 1,
        "missing_value": 1,
        "not_finite": 1,
    }
    scored = pq.read_table(tmp_path / "out").to_pandas()  # a folder of part files
    kept = [i for i in range(len(frame)) if i not in (3, 7, 50, 51)]
    assert scored["row_id"].tolist() == kept
    assert scored["customer"].tolist() == [f"c{i:04d}" for i in kept]


def test_strict_stops_at_the_first_refused_row_and_writes_nothing(
    project: Path, tmp_path: Path
) -> None:
    _with_bad_rows(project, tmp_path / "bad.csv")
    output = tmp_path / "out" / "scored.parquet"
    with opened(project) as p:
        result = score(
            p, CHAMPION, str(tmp_path / "bad.csv"), str(output), strict=True, batch_rows=5
        )
    assert not result.complete
    assert result.output is None
    # The first bad batch is rows 0-4; it stops there.
    assert (result.rows_read, result.rows_skipped) == (5, 1)
    assert [r.row_id for r in result.refusals] == [3]
    assert list((tmp_path / "out").iterdir()) == []  # no output, no temporary file


def test_a_folder_read_in_small_batches_gives_the_rows_a_file_gives(
    project: Path, tmp_path: Path
) -> None:
    rows = pd.read_csv(project.parent / "data" / "test.csv")
    folder = tmp_path / "parts"
    folder.mkdir()
    rows.iloc[:50].to_parquet(folder / "a.parquet")
    rows.iloc[50:].to_parquet(folder / "b.parquet")
    (folder / "_SUCCESS").touch()
    with opened(project) as p:
        whole = score(p, CHAMPION, "data/test.csv", str(tmp_path / "whole.parquet"))
        parted = score(p, CHAMPION, str(folder), str(tmp_path / "parted.parquet"), batch_rows=7)
    assert whole.rows_scored == parted.rows_scored == len(rows)
    one = pq.read_table(tmp_path / "whole.parquet").to_pandas()
    other = pq.read_table(tmp_path / "parted.parquet")
    assert other.num_rows == len(rows)
    assert other.to_pandas().equals(one)
    # One row group per batch: files of 50 and 70 rows in batches of at most 7.
    assert pq.ParquetFile(tmp_path / "parted.parquet").metadata.num_row_groups == 8 + 10


def test_a_run_folder_scores_without_a_registry(project: Path, tmp_path: Path) -> None:
    with opened(project) as p:
        version = p.catalog.resolve(CHAMPION)
        folder = p.catalog.local_path(version)
    with Project(tmp_path) as p:  # a run folder needs no registry
        result = score(p, str(folder), str(project.parent / "data" / "test.csv"), "o.parquet")
    assert result.version == folder.name
    assert result.rows_scored == 120


def test_an_input_without_a_feature_is_refused_before_anything_is_written(
    project: Path, tmp_path: Path
) -> None:
    pd.read_csv(project.parent / "data" / "test.csv").drop(columns=["age"]).to_csv(
        tmp_path / "short.csv", index=False
    )
    with opened(project) as p, pytest.raises(DataError) as caught:
        score(p, CHAMPION, str(tmp_path / "short.csv"), str(tmp_path / "o.parquet"))
    assert str(caught.value) == (
        f"{tmp_path / 'short.csv'}: the input has no column 'age'; the model takes: age, "
        "income, debt_ratio, credit_score, employment, region. Score data with the model's "
        "features (extra columns are ignored)."
    )
    assert not (tmp_path / "o.parquet").exists()


def test_an_output_that_is_there_is_kept_unless_overwrite(project: Path, tmp_path: Path) -> None:
    output = tmp_path / "o.parquet"
    output.write_bytes(b"keep me")
    with opened(project) as p:
        with pytest.raises(ConfigError, match=r"^.*o\.parquet: OUTPUT: the output is there"):
            score(p, CHAMPION, "data/test.csv", str(output))
        assert output.read_bytes() == b"keep me"
        score(p, CHAMPION, "data/test.csv", str(output), overwrite=True)
    assert pq.read_table(output).num_rows == 120


def test_log_needs_a_registered_version(project: Path, tmp_path: Path) -> None:
    with opened(project) as p:
        folder = p.catalog.local_path(p.catalog.resolve(CHAMPION))
        with pytest.raises(ConfigError, match=r"^MODEL_URI: --log needs a registered version"):
            score(p, str(folder), "data/test.csv", str(tmp_path / "o.parquet"), log=True)
