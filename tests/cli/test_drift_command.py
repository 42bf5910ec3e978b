"""`mlgate drift` through typer's CliRunner: references of every kind, outputs, exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from mlgate.cli import app
from mlgate.config.loader import load_config
from mlgate.drift import PROFILE, Profile
from mlgate.monitor import check_drift
from mlgate.road.run import run
from mlgate.scaffold.example import write_example

FEATURES = ["age", "income", "debt_ratio", "credit_score", "employment", "region"]
#: Variables that would point mlgate at a registry or state store outside the test.
OUTSIDE = ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL", "MLGATE_ACTOR")


@dataclass(frozen=True)
class Project:
    """The example project, trained and registered once: its folder, data and run folder."""

    folder: Path
    run: Path

    def data(self, name: str) -> str:
        return str(self.folder / "data" / name)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The example project with its first version registered as champion.

    Its model is made smaller (20 trees, no cross-validation): drift does not
    depend on it, and the module trains only once.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in OUTSIDE:
            patch.delenv(name, raising=False)
        config = write_example(tmp_path_factory.mktemp("drift") / "project", rows=600)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace("n_estimators: 100", "n_estimators: 20").replace(
                "cv_folds: 5", "cv_folds: 0"
            ),
            encoding="utf-8",
        )
        result = run(load_config(config), register=True)
        assert result.registration is not None
        assert result.registration.alias == "champion"
        folder = config.parent
        for name in ("train", "test", "drifted"):
            frame = pd.read_csv(folder / "data" / f"{name}.csv")
            frame.to_parquet(folder / "data" / f"{name}.parquet", index=False)
        yield Project(folder=folder, run=Path(result.files["card"]).parent)


@pytest.fixture
def inside(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """Run commands from the project's folder, where its mlgate.yaml is found."""
    for name in OUTSIDE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project.folder)
    return project


@pytest.fixture
def outside(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """Run commands from an empty folder: no config, so no target and default settings."""
    monkeypatch.chdir(tmp_path)
    return project


def drift(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(app, ["drift", *map(str, args)])


def as_json(result: Result) -> dict[str, object]:
    payload = json.loads(result.stdout)  # one document, nothing else on stdout
    assert isinstance(payload, dict)
    return payload


def columns_of(payload: dict[str, object]) -> dict[str, dict[str, object]]:
    found = payload["columns"]
    assert isinstance(found, list)
    return {c["column"]: c for c in found}


def one_error(result: Result) -> str:
    """The single `error:` line a failed command printed, checked to be all it printed."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


# --- verdicts and exit codes ------------------------------------------------------------------


def test_two_data_files_without_drift(runner: CliRunner, outside: Project) -> None:
    result = drift(runner, outside.data("train.csv"), outside.data("test.csv"))
    assert result.exit_code == 0, result.output
    assert "no dataset drift: 0 of 7 columns (0%; the line is 30%)" in result.stdout
    assert result.stderr == ""


def test_fail_on_drift_exits_1_only_when_the_dataset_drifted(
    runner: CliRunner, outside: Project
) -> None:
    train, test, drifted = (outside.data(f"{n}.csv") for n in ("train", "test", "drifted"))
    assert drift(runner, train, drifted).exit_code == 0  # found, but not asked to fail
    failed = drift(runner, train, drifted, "--fail-on-drift")
    assert failed.exit_code == 1, failed.output
    assert "dataset drift:" in failed.stdout
    assert drift(runner, train, test, "--fail-on-drift").exit_code == 0


def test_json_is_one_document_with_the_verdict_and_every_column(
    runner: CliRunner, outside: Project
) -> None:
    result = drift(runner, outside.data("train.csv"), outside.data("drifted.csv"), "--json")
    assert result.exit_code == 0, result.output
    payload = as_json(result)
    assert payload["dataset_drift"] is True
    columns = columns_of(payload)
    assert set(columns) == {*FEATURES, "default"}  # without a config the target is a column
    assert columns["age"]["test"] == "ks"
    assert columns["age"]["drifted"] is True
    assert payload["reference"] == outside.data("train.csv")
    assert payload["label"] is None


def test_html_and_markdown_reports_are_written(
    runner: CliRunner, inside: Project, tmp_path: Path
) -> None:
    html, markdown = tmp_path / "drift.html", tmp_path / "drift.md"
    result = drift(
        runner,
        inside.data("train.csv"),
        inside.data("drifted.csv"),
        "--html",
        html,
        "--markdown",
        markdown,
    )
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert page.count('src="data:image/png;base64,') == len(FEATURES) + 1  # and the label
    text = markdown.read_text(encoding="utf-8")
    assert text.startswith("## Data drift: ❌ drift\n")
    for column in FEATURES:
        assert f"| {column} | " in text
    assert "| default (label) | chi-square | χ²=" in text


# --- the target: label drift, not a feature ---------------------------------------------------


def test_the_configs_target_is_reported_as_label_drift(runner: CliRunner, inside: Project) -> None:
    result = drift(runner, inside.data("train.csv"), inside.data("drifted.csv"), "--json")
    assert result.exit_code == 0, result.output
    payload = as_json(result)
    assert set(columns_of(payload)) == set(FEATURES)
    label = payload["label"]
    assert isinstance(label, dict)
    assert (label["column"], label["kind"], label["test"]) == ("default", "categorical", "chi2")
    assert label["drifted"] is True
    assert (
        "default (label)" in drift(runner, inside.data("train.csv"), inside.data("test.csv")).stdout
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_configs_dropped_columns_are_not_compared(
    runner: CliRunner, inside: Project, suffix: str
) -> None:
    config = inside.folder / "mlgate.yaml"
    text = config.read_text(encoding="utf-8")
    try:
        config.write_text(
            text.replace("  target: default\n", "  target: default\n  drop: [region]\n"),
            encoding="utf-8",
        )
        result = drift(
            runner, inside.data(f"train.{suffix}"), inside.data(f"drifted.{suffix}"), "--json"
        )
    finally:
        config.write_text(text, encoding="utf-8")
    assert result.exit_code == 0, result.output
    assert set(columns_of(as_json(result))) == set(FEATURES) - {"region"}


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_check_drift_compares_the_target_as_a_label(project: Project, suffix: str) -> None:
    train, drifted = project.data(f"train.{suffix}"), project.data(f"drifted.{suffix}")
    report = check_drift(train, drifted, target="default")
    assert [c.column for c in report.columns] == FEATURES
    assert report.label is not None
    assert (report.label.column, report.label.test, report.label.drifted) == (
        "default",
        "chi2",
        True,
    )
    as_numbers = check_drift(train, drifted, target="default", task="regression")
    assert as_numbers.label is not None
    assert (as_numbers.label.kind, as_numbers.label.test) == ("numeric", "ks")
    without = check_drift(train, drifted)
    assert without.label is None
    assert "default" in [c.column for c in without.columns]


def test_a_target_only_one_side_has_is_left_out(project: Project, tmp_path: Path) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(project.data("drifted.csv")).drop(columns="default").to_csv(unlabelled, index=False)
    report = check_drift(project.data("train.csv"), str(unlabelled), target="default")
    assert [c.column for c in report.columns] == FEATURES
    assert report.label is None


# --- references: a run folder, a profile, a registered model ----------------------------------


def test_a_run_folder_has_a_profile_with_predictions_and_labels(project: Project) -> None:
    profile = Profile.load(project.run / PROFILE)
    assert list(profile.columns) == FEATURES
    assert profile.prediction is not None
    assert profile.label is not None
    assert profile.prediction.kind == profile.label.kind == "categorical"
    assert set(profile.label.counts) == {"0", "1"}
    assert profile.label.count == 120  # the test rows
    assert profile.rows == 480  # the training rows


@pytest.mark.parametrize("reference", ["run folder", "profile", "champion"])
def test_a_reference_profile_from_a_run_folder_file_or_registered_model(
    runner: CliRunner, inside: Project, reference: str
) -> None:
    given = {
        "run folder": str(inside.run),
        "profile": str(inside.run / PROFILE),
        "champion": "models:/credit-risk@champion",
    }[reference]
    result = drift(runner, given, inside.data("drifted.csv"), "--json", "--fail-on-drift")
    assert result.exit_code == 1, result.output
    payload = as_json(result)
    columns = columns_of(payload)
    assert list(columns) == FEATURES
    assert columns["age"]["drifted"] is True
    assert columns["age"]["reference_rows"] == 480
    label = payload["label"]
    assert isinstance(label, dict)
    assert (label["column"], label["test"], label["reference_rows"]) == ("default", "chi2", 120)
    calm = drift(runner, given, inside.data("test.csv"), "--fail-on-drift")
    assert calm.exit_code == 0, calm.output


def test_a_profile_reference_with_an_html_report(
    runner: CliRunner, inside: Project, tmp_path: Path
) -> None:
    html = tmp_path / "drift.html"
    result = drift(runner, inside.run / PROFILE, inside.data("drifted.csv"), "--html", html)
    assert result.exit_code == 0, result.output
    assert html.read_text(encoding="utf-8").count("data:image/png;base64,") == len(FEATURES) + 1


# --- bad input: exit 2, one line, no traceback ------------------------------------------------


def test_a_missing_file_on_either_side(runner: CliRunner, outside: Project) -> None:
    train = outside.data("train.csv")
    assert (
        one_error(drift(runner, "nope.csv", train)) == "nope.csv: file not found. Check the path."
    )
    assert one_error(drift(runner, train, "nope.parquet")) == (
        "nope.parquet: file not found. Check the path."
    )
    assert one_error(drift(runner, "nope.json", train)) == (
        "nope.json: file not found. Check the path."
    )


def test_data_sharing_no_column(runner: CliRunner, outside: Project, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(other, index=False)
    message = one_error(drift(runner, outside.data("train.csv"), other))
    assert message == "the two datasets share no column. Compare data with the same columns."
    parquet = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(parquet)
    assert one_error(drift(runner, outside.data("train.parquet"), parquet)) == message


def test_data_sharing_only_the_target(runner: CliRunner, inside: Project, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"default": [0, 1, 1]}).to_csv(labels, index=False)
    assert one_error(drift(runner, inside.data("train.csv"), labels)) == (
        "the two datasets share no column besides the target 'default'. "
        "Compare data with the same columns."
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"name": "credit-risk"}', "not a drift profile (rows: Field required)."),
        ("rows,columns\n1,2\n", "not JSON (Expecting value, line 1)."),
    ],
)
def test_a_json_file_that_is_not_a_profile(
    runner: CliRunner, outside: Project, tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(text, encoding="utf-8")
    assert one_error(drift(runner, path, outside.data("test.csv"))) == (
        f"{path}: {problem} Pass a profile.json that mlgate wrote (each run folder has one)."
    )


def test_a_folder_without_a_profile(runner: CliRunner, outside: Project, tmp_path: Path) -> None:
    assert one_error(drift(runner, tmp_path, outside.data("test.csv"))) == (
        f"{tmp_path / PROFILE}: no reference profile here. Pass a data file, a profile.json, "
        "or a run folder trained by mlgate 0.1+."
    )


def test_current_data_without_the_profiles_columns(
    runner: CliRunner, inside: Project, tmp_path: Path
) -> None:
    partial = tmp_path / "partial.csv"
    pd.read_csv(inside.data("test.csv"))[["age", "income"]].to_csv(partial, index=False)
    assert one_error(drift(runner, inside.run, partial)) == (
        "the current data lacks column(s) 'debt_ratio', 'credit_score', 'employment', 'region'. "
        "Compare data with the reference's columns."
    )


def test_an_unknown_registered_model(runner: CliRunner, inside: Project) -> None:
    message = one_error(drift(runner, "models:/nope@champion", inside.data("test.csv")))
    assert message.startswith("no registered model named 'nope'.")


def test_a_config_asked_for_but_missing(runner: CliRunner, outside: Project) -> None:
    train, test = outside.data("train.csv"), outside.data("test.csv")
    message = one_error(drift(runner, train, test, "-c", "missing.yaml"))
    assert message == f"{os.getcwd()}/missing.yaml: config file not found. Check the path."


def test_a_bad_drift_setting_in_the_config(runner: CliRunner, inside: Project) -> None:
    config = inside.folder / "mlgate.yaml"
    text = config.read_text(encoding="utf-8")
    try:
        config.write_text(text + "monitor:\n  drift:\n    tests: {age: chi2}\n", encoding="utf-8")
        message = one_error(drift(runner, inside.data("train.csv"), inside.data("test.csv")))
    finally:
        config.write_text(text, encoding="utf-8")
    assert message == (
        "monitor.drift.tests.age: drift test 'chi2' is for categorical columns, but 'age' is "
        "numeric. Allowed: ks, wasserstein, psi. Choose a test of the column's kind."
    )


def test_a_registered_reference_where_there_is_no_registry_creates_none(
    runner: CliRunner, outside: Project, tmp_path: Path
) -> None:
    message = one_error(drift(runner, "models:/credit-risk@champion", outside.data("test.csv")))
    assert message.startswith(f"no model registry in {tmp_path.resolve()}")
    assert not (tmp_path / ".mlgate").exists()


def test_a_report_that_cannot_be_written_is_one_error(
    runner: CliRunner, outside: Project, tmp_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file where a folder should be", encoding="utf-8")
    target = tmp_path / "taken" / "report.html"
    message = one_error(
        drift(runner, outside.data("train.csv"), outside.data("test.csv"), "--html", target)
    )
    assert message.startswith(f"{tmp_path / 'taken'}: ")
    assert message.endswith(
        "Check that the path is right, that its folder exists, and that you may read or "
        "write there."
    )
