"""`check_batch`: the gateway's checks over a batch find exactly the bad rows, wherever
they are, and build one batch of the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.project import Project
from mlgate.registry.refs import load_ref
from mlgate.scoring.checks import check_batch
from mlgate.serving.runtime import ServedModel
from rollout.support import clean_environment, copy_project


@pytest.fixture(scope="module")
def model(template: Path, tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        config = copy_project(template, tmp_path_factory.mktemp("checks") / "project")
        with Project.open(config, required=False, create=False) as p:
            return ServedModel.load(load_ref("models:/credit-risk/1", catalog=p.catalog))


@pytest.fixture(scope="module")
def rows(template: Path) -> dict[str, list[Any]]:
    frame = pd.read_csv(template / "data" / "test.csv").drop(columns=["default"])
    frame = frame.astype(object).where(frame.notna(), None)
    return {name: list(frame[name]) for name in frame.columns}


#: Ways to spoil a row, each with the gateway's code for it.
SPOILED = [("age", "forty", "not_a_number"), ("region", ["north"], "not_a_category")]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bad=st.dictionaries(st.integers(0, 119), st.sampled_from(SPOILED), max_size=30))
def test_exactly_the_spoiled_rows_are_refused(
    model: ServedModel, rows: dict[str, list[Any]], bad: dict[int, tuple[str, Any, str]]
) -> None:
    columns = {name: list(values) for name, values in rows.items()}
    for at, (feature, value, _) in bad.items():
        columns[feature][at] = value
    row_ids = [1000 + i for i in range(120)]
    checked = check_batch(model, columns, row_ids)
    assert [(r.row_id, r.feature, r.code) for r in checked.refused] == [
        (1000 + at, bad[at][0], bad[at][2]) for at in sorted(bad)
    ]
    assert checked.kept == [i for i in range(120) if i not in bad]
    if checked.batch is None:
        assert not checked.kept
    else:
        assert checked.batch.rows == len(checked.kept)
        # The kept rows' values, in order, are the batch's.
        assert list(checked.batch.columns["age"]) == [float(rows["age"][i]) for i in checked.kept]
    for refusal in checked.refused:
        assert f"in row {refusal.row_id} " in refusal.reason
