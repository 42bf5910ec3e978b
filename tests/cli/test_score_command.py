"""`mlgate score` and `mlgate feedback` through CliRunner, on a real registry: exit codes,
the summary, and a batch run's rows reaching `mlgate monitor` with their labels."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from mlgate.cli import app
from mlgate.config.settings import Settings
from mlgate.project import Project
from mlgate.rollout.analysis import analyse
from mlgate.state.predlog import read_log
from rollout.support import clean_environment, copy_project, registered_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registered_template(tmp_path_factory)


@pytest.fixture
def project(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clean_environment(monkeypatch)
    config = copy_project(template, tmp_path / "project")
    monkeypatch.chdir(config.parent)
    return config


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def bad_rows(target: Path) -> Path:
    frame = pd.read_csv("data/test.csv").astype(object)
    frame.loc[5, "age"] = "old"
    frame.to_csv(target, index=False)
    return target


def test_score_prints_a_summary_and_exits_0_with_rows_skipped(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    result = invoke(
        runner, "score", "models:/credit-risk@champion", bad_rows(tmp_path / "in.csv"), "o.parquet"
    )
    assert result.exit_code == 0, result.output
    assert "credit-risk version 1 (local): 119 row(s) scored, 1 skipped, of 120 read" in (
        result.stdout
    )
    assert "skipped by reason: not_a_number 1" in result.stdout
    assert "✗ feature 'age' in row 5 must be a number, got \"old\"" in result.stdout
    assert pq.read_table("o.parquet").num_rows == 119


def test_strict_exits_1_and_writes_nothing(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    result = invoke(
        runner,
        "score",
        "models:/credit-risk/1",
        bad_rows(tmp_path / "in.csv"),
        "o.parquet",
        "--strict",
        "--json",
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["complete"], summary["output"], summary["rows_skipped"]) == (False, None, 1)
    assert not Path("o.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["models:/credit-risk@champion", "nowhere.csv", "o.parquet"],
            "nowhere.csv: file or folder not found. Check the path or URL.",
        ),
        (
            ["models:/credit-risk@champion", "data/test.csv", "o.parquet", "--engine", "dask"],
            "--engine: unknown engine. Got 'dask'. Allowed: local, spark.",
        ),
        (
            ["models:/credit-risk@nobody", "data/test.csv", "o.parquet"],
            None,
        ),
        (
            ["data/test.csv", "data/test.csv", "o.parquet"],
            "MODEL_URI: must be a registry reference (models:/NAME@alias, NAME@alias) or a run "
            "folder; the path given is a data file. Got 'data/test.csv'. "
            "Give the model first: mlgate score MODEL_URI INPUT OUTPUT.",
        ),
        (
            ["models:/credit-risk@champion", "data/test.csv", "/proc/o.parquet"],
            "/proc/o.parquet: OUTPUT: cannot write the output: no such file or directory. "
            "Check that its folder exists and that you may write there.",
        ),
        (
            ["models:/credit-risk@champion", "data/test.csv", "mlgate.yaml/o.parquet"],
            "mlgate.yaml/o.parquet: OUTPUT: cannot write the output: a part of its path is a "
            "file, not a folder. Check that its folder exists and that you may write there.",
        ),
    ],
)
def test_a_usage_error_exits_2_with_one_line(
    runner: CliRunner, project: Path, args: list[str], message: str | None
) -> None:
    result = invoke(runner, "score", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    if message is not None:
        assert lines[0] == f"error: {message}"
    assert not Path("o.parquet").exists()


def test_an_empty_input_is_named_so(runner: CliRunner, project: Path) -> None:
    Path("empty.csv").write_text("", encoding="utf-8")
    result = invoke(runner, "score", "models:/credit-risk@champion", "empty.csv", "o.parquet")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "error: empty.csv: the file is empty."


def test_logged_batch_rows_and_their_labels_reach_the_monitor(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    scored = invoke(
        runner, "score", "models:/credit-risk@champion", "data/train.csv", "out", "--log", "--json"
    )
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout)
    assert (summary["rows_logged"], summary["role"]) == (480, "champion")
    output = pq.read_table("out").to_pandas()
    assert set(output["request_id"]) == {summary["request_id"]}
    # Labels keyed by the output's request_id and row_id: the first 100 rows' true labels.
    truth = pd.read_csv("data/train.csv")["default"]
    labels = output[["request_id", "row_id"]].iloc[:100].assign(label=truth.iloc[:100].values)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    sent = invoke(runner, "feedback", tmp_path / "labels.csv", "--json")
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout) == {
        "model": "credit-risk",
        "accepted": 100,
        "unknown": 0,
        "duplicate": 0,
    }
    # The same file again: every row is labelled already, and none is kept twice.
    again = invoke(runner, "feedback", tmp_path / "labels.csv")
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == (
        "credit-risk: 0 label(s) recorded, 0 for request ids never issued (not kept), "
        "100 for rows labelled before (not kept)"
    )

    cycle = invoke(runner, "monitor", "--once", "--no-retrain", "--json")
    assert cycle.exit_code in (0, 1), cycle.output
    figures = json.loads(cycle.stdout)
    assert (figures["rows"], figures["labelled"], figures["champion"]) == (480, 100, "1")
    correct = (output["prediction"].iloc[:100] == truth.iloc[:100]).mean()
    assert figures["live_accuracy"] == pytest.approx(correct)
    # A rollout's analysis judges the traffic the split routed: batch rows are not in it.
    with Project(project.parent, Settings()) as p:
        since = pd.Timestamp("2000-01-01", tz="UTC").to_pydatetime()
        assert analyse(p.log_root, "credit-risk", since).champion.requests == 0


def test_the_challenger_is_logged_as_the_challenger_and_unknown_ids_are_not_kept(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    scored = invoke(runner, "score", "models:/credit-risk/2", "data/test.csv", "o.parquet", "--log")
    assert scored.exit_code == 0, scored.output
    assert "logged 120 row(s) as challenger" in scored.stdout
    pd.DataFrame({"request_id": ["f" * 40, "made-up"], "row": [0, 1], "label": [1, 0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    sent = invoke(runner, "feedback", tmp_path / "labels.csv")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.strip() == (
        "credit-risk: 0 label(s) recorded, 2 for request ids never issued (not kept), "
        "0 for rows labelled before (not kept)"
    )


def test_a_label_the_model_never_predicts_keeps_no_label(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    pd.DataFrame({"request_id": ["a", "b"], "row_id": [0, 1], "label": ["1", "yes"]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    sent = invoke(runner, "feedback", tmp_path / "labels.csv")
    assert sent.exit_code == 2
    assert sent.stderr.strip() == (
        f'error: {tmp_path / "labels.csv"}: row 1: the label "yes" is not a class the model '
        "predicts; give one of: 0, 1."
    )
    assert not Path(".mlgate/logs/feedback").exists()


def test_float_labels_name_their_classes_and_are_kept_as_predictions_show_them(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    scored = invoke(
        runner, "score", "models:/credit-risk@champion", "data/test.csv", "out", "--log"
    )
    assert scored.exit_code == 0, scored.output
    output = pq.read_table("out").to_pandas()
    # A label column with one value missing: pandas makes it float (0.0, 1.0).
    truth = pd.read_csv("data/test.csv")["default"].iloc[:4].astype(float)
    labels = output[["request_id", "row_id"]].iloc[:4].assign(label=truth.values)
    # ...and the first row labelled twice in the file: its first label is kept.
    labels = pd.concat([labels, labels.iloc[:1].assign(label=1.0 - truth.iloc[0])])
    labels.to_parquet(tmp_path / "labels.parquet", index=False)
    sent = invoke(runner, "feedback", tmp_path / "labels.parquet", "--json")
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout) == {
        "model": "credit-risk",
        "accepted": 4,
        "unknown": 0,
        "duplicate": 1,
    }
    with Project(project.parent, Settings()) as p:
        kept = read_log(p.log_root, "feedback", "SELECT row, label FROM log ORDER BY row")
    assert kept["label"].tolist() == [str(int(v)) for v in truth]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["1.0", "0.0", None, "1.0"], "row 2: the label is missing."),
        (
            ["1.0", "0.5"],
            'row 1: the label "0.5" is not a class the model predicts; give one of: 0, 1.',
        ),
    ],
)
def test_a_missing_or_fractional_label_is_refused_naming_its_row(
    runner: CliRunner, project: Path, tmp_path: Path, labels: list[str | None], message: str
) -> None:
    pd.DataFrame(
        {"request_id": ["a"] * len(labels), "row_id": range(len(labels)), "label": labels}
    ).to_csv(tmp_path / "labels.csv", index=False)
    sent = invoke(runner, "feedback", tmp_path / "labels.csv")
    assert sent.exit_code == 2
    assert sent.stderr.strip() == f"error: {tmp_path / 'labels.csv'}: {message}"
    assert not Path(".mlgate/logs/feedback").exists()
