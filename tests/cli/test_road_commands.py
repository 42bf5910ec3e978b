"""`mlgate train`, `run`, `evaluate` and `quickstart` through typer's CliRunner, as users do."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner, Result

from mlgate.cli import app

NewProject = Callable[..., Path]


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    """Run `mlgate ARGS`; tests of `run` pass --no-register unless registering is the point."""
    return runner.invoke(app, [str(a) for a in args])


def one_error(result: Result) -> str:
    """The single `error:` line a failed command printed, checked to be all it printed."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def with_schema(folder: Path, columns: dict[str, Any]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.yaml").write_text(yaml.safe_dump({"columns": columns}))
    return "schema.yaml"


SCHEMA = {
    "x1": {"dtype": "float"},
    "x2": {"dtype": "float"},
    "count": {"dtype": "int"},
    "colour": {"dtype": "string"},
    "label": {"dtype": "string"},
}


# --- configuration mistakes: exit 2, one line, no traceback ---------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            {"estimator": "nosuch.models.Model"},
            "model.estimator: cannot import module 'nosuch.models' (No module named 'nosuch'). "
            "Got 'nosuch.models.Model'. "
            "Check the spelling, or install the package that provides it.",
        ),
        (
            {"estimator": "sklearn.ensemble.RandomForestClassifer"},
            "model.estimator: module 'sklearn.ensemble' has no class 'RandomForestClassifer'. "
            "Got 'sklearn.ensemble.RandomForestClassifer'. Did you mean RandomForestClassifier? "
            "Check the class name's spelling and case.",
        ),
        (
            {"estimator": "sklearn.preprocessing.StandardScaler"},
            "model.estimator: StandardScaler is not a model that predicts: it has no predict "
            "method. Got 'sklearn.preprocessing.StandardScaler'. Name a classifier or regressor, "
            "such as sklearn.ensemble.RandomForestClassifier; preprocessing is built from the "
            "schema (model.preprocessing).",
        ),
        (
            {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"maxiter": 5}},
            "model.params.maxiter: LogisticRegression has no parameter 'maxiter'. Allowed: C, "
            "class_weight, dual, fit_intercept, intercept_scaling, l1_ratio, max_iter, n_jobs, "
            "penalty, random_state, solver, tol, verbose, warm_start.",
        ),
        (
            {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 0}},
            "model.params.n_estimators: The 'n_estimators' parameter of RandomForestClassifier "
            "must be an int in the range [1, inf). Got 0 instead.",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "train"])
def test_estimator_mistakes_are_one_line_errors(
    runner: CliRunner,
    new_project: NewProject,
    binary_frame: pd.DataFrame,
    command: str,
    model: dict[str, Any],
    expected: str,
) -> None:
    config = new_project(binary_frame, model=model)
    assert one_error(invoke(runner, command, "-c", config, "-q")) == f"{config}: {expected}"


def test_a_gate_on_an_unknown_metric(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame, gates={"min": {"acuracy": 0.9}})
    message = one_error(invoke(runner, "run", "--no-register", "-c", config, "-q"))
    assert message.startswith(f"{config}: gates.min.acuracy: unknown classification metric ")
    assert message.endswith("Did you mean accuracy?")
    assert not (config.parent / ".mlgate").exists()


# --- data that cannot be used: exit 2 with the file, the problem and the fix ----------------


def test_a_target_column_that_is_not_there(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame, target="outcome")
    assert one_error(invoke(runner, "run", "--no-register", "-c", config, "-q")) == (
        "train.csv: target column 'outcome' is not in the data. "
        "Set data.target to one of: x1, x2, count, colour, label."
    )


def test_a_target_with_a_single_class(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame.assign(label="yes"))
    assert one_error(invoke(runner, "run", "--no-register", "-c", config, "-q")) == (
        "train.csv: target column 'label' has a single class ('yes') in all 240 rows; "
        "a classifier needs at least two. "
        "Add rows of another class, or check that data.target names the label."
    )


def test_a_file_with_a_header_and_no_rows(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame.iloc[:0])
    assert one_error(invoke(runner, "train", "-c", config, "-q")) == (
        "train.csv: the data has a header (5 column(s)) but no rows. "
        "Point data.train / data.test at a file with labelled rows."
    )


def test_an_empty_file(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame)
    (config.parent / "train.csv").write_text("")
    message = one_error(invoke(runner, "run", "--no-register", "-c", config, "-q"))
    assert message.startswith(f"{config.parent / 'train.csv'}: the file is empty")


def test_a_feature_column_with_no_values(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame.assign(x2=None))
    assert one_error(invoke(runner, "run", "--no-register", "-c", config, "-q")) == (
        "train.csv: feature column(s) with no values at all, missing in every one of the "
        "240 rows: x2. Fill them, or list them under data.drop."
    )


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("train.parquet", b"PAR1 this is not really parquet", "PARQUET"),
        ("train.csv", b"x1,label\n1.0,yes\n2.0,no,extra\n", "CSV"),
        ("train.csv", bytes(range(256)) * 8, "CSV"),
    ],
    ids=["damaged-parquet", "ragged-csv", "binary-csv"],
)
def test_an_unreadable_file(
    runner: CliRunner,
    new_project: NewProject,
    binary_frame: pd.DataFrame,
    name: str,
    content: bytes,
    kind: str,
) -> None:
    config = new_project(binary_frame, data={"train": name})
    (config.parent / name).write_bytes(content)
    message = one_error(invoke(runner, "run", "--no-register", "-c", config, "-q"))
    assert message.startswith(f"{config.parent / name}: cannot read it as {kind}: ")
    assert message.endswith(f"Check that the file is {kind} and not damaged.")


# --- validation: exit 1 listing every violation, nothing trained ----------------------------


def test_text_in_a_numeric_column_fails_validation(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = binary_frame.astype({"x1": object})
    frame.loc[5, "x1"] = "oops"
    schema = with_schema(tmp_path / "project", SCHEMA)
    config = new_project(frame, schema=schema)
    result = invoke(runner, "run", "--no-register", "-c", config, "-q", "-o", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "✗ train.csv: invalid: 1 violation(s) in 1 column(s) of 240 rows" in result.stdout
    assert "│ x1 " in result.stdout
    assert "dtype" in result.stdout
    assert "5: 'oops'" in result.stdout
    assert "demo: FAILED at validate" in result.stdout
    as_json = invoke(runner, "run", "--no-register", "-c", config, "--json", "-o", tmp_path / "out")
    violation = json.loads(as_json.stdout)["validation"]["train"]["violations"][0]
    assert (violation["column"], violation["rule"], violation["count"]) == ("x1", "dtype", 1)
    assert violation["message"].startswith("expected float")
    assert violation["examples"] == [{"row": 5, "value": "oops"}]
    assert not (tmp_path / "out" / "model.skops").exists()


def test_every_violation_is_listed_and_training_does_not_start(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    columns = SCHEMA | {
        "x1": {"dtype": "float", "max": 0.5},
        "colour": {"dtype": "string", "categories": ["red"]},
    }
    config = new_project(binary_frame, schema=with_schema(tmp_path / "project", columns))
    result = invoke(
        runner, "run", "--no-register", "-c", config, "-q", "--json", "-o", tmp_path / "out"
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["passed"], payload["stage"], payload["metrics"]) == (False, "validate", {})
    rules = [(v["column"], v["rule"]) for v in payload["validation"]["train"]["violations"]]
    assert sorted(rules) == [("colour", "unknown_category"), ("x1", "above_max")]
    assert not (tmp_path / "out" / "model.skops").exists()


# --- the verdict: JSON for machines, reasons for people --------------------------------------


def test_run_json_prints_one_object_with_the_verdict_and_metrics(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = new_project(binary_frame, gates={"min": {"accuracy": 0.6}})
    # The default path, registration included: nothing else may reach stdout.
    result = invoke(runner, "run", "-c", config, "--json", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert payload["passed"] is True
    assert payload["metrics"]["accuracy"] >= 0.6
    assert payload["metrics"] == json.loads((tmp_path / "out" / "metrics.json").read_text())


def test_a_failed_gate_exits_1_and_says_metric_value_and_bound(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = new_project(binary_frame, gates={"min": {"accuracy": 0.999, "f1": 0.1}})
    as_json = invoke(runner, "run", "--no-register", "-c", config, "--json", "-o", tmp_path / "a")
    assert as_json.exit_code == 1
    payload = json.loads(as_json.stdout)
    accuracy = payload["metrics"]["accuracy"]
    assert payload["passed"] is False
    assert payload["reasons"] == [f"accuracy {accuracy:.4f} < min 0.999"]

    human = invoke(runner, "run", "--no-register", "-c", config, "-q", "-o", tmp_path / "b")
    assert human.exit_code == 1
    assert f"✗ gate: accuracy {accuracy:.4f} < min 0.999" in human.stdout
    assert "✓ gate: f1 " in human.stdout
    assert "demo: FAILED at gate\n" in human.stdout
    assert f"  - accuracy {accuracy:.4f} < min 0.999\n" in human.stdout
    # Said, not silent: the champion was not consulted, and how to consult it.
    assert (
        "not compared with the champion: a run that registers nothing reads no registry. "
        f"Compare with `mlgate compare --baseline demo@champion --candidate {tmp_path / 'b'}`"
    ) in " ".join(human.stderr.split())


def test_train_ignores_the_gates(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = new_project(binary_frame, gates={"min": {"accuracy": 0.999}})
    result = invoke(runner, "train", "-c", config, "-q", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "model.skops").is_file()
    assert "gate:" not in result.stdout


def test_warnings_go_to_stderr_once(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 1},
        "cv_folds": 2,
    }
    result = invoke(
        runner,
        "run",
        "--no-register",
        "-c",
        new_project(binary_frame, model=model),
        "-q",
        "-o",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: ConvergenceWarning: lbfgs failed to converge") == 1


# --- evaluate ---------------------------------------------------------------------------------


def test_evaluate_scores_a_run_on_new_data(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    schema = with_schema(tmp_path / "project", SCHEMA)
    config = new_project(binary_frame.iloc[:180], test=binary_frame.iloc[180:], schema=schema)
    assert (
        invoke(runner, "run", "--no-register", "-c", config, "-q", "-o", tmp_path / "out").exit_code
        == 0
    )
    test_csv = config.parent / "test.csv"
    result = invoke(runner, "evaluate", tmp_path / "out", test_csv, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"] == 60
    assert payload["metrics"] == json.loads((tmp_path / "out" / "metrics.json").read_text())

    human = invoke(runner, "evaluate", tmp_path / "out" / "model.skops", test_csv)
    assert human.exit_code == 0
    assert f"demo on {test_csv}: 60 rows" in human.stdout
    assert f"accuracy          │ {payload['metrics']['accuracy']:.4f}" in human.stdout


def test_evaluate_refuses_a_tampered_model(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = new_project(binary_frame)
    assert invoke(runner, "train", "-c", config, "-q", "-o", tmp_path / "out").exit_code == 0
    model = tmp_path / "out" / "model.skops"
    model.write_bytes(model.read_bytes()[:-1] + b"!")
    message = one_error(invoke(runner, "evaluate", tmp_path / "out", config.parent / "train.csv"))
    assert message == (
        f"{model}: the model file's sha256 does not match the one recorded when it was "
        "written; it was altered or replaced. Retrain it, or restore the original file."
    )


def test_evaluate_on_data_without_the_model_s_columns(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = new_project(binary_frame)
    assert invoke(runner, "train", "-c", config, "-q", "-o", tmp_path / "out").exit_code == 0
    other = tmp_path / "other.csv"
    binary_frame.drop(columns=["colour"]).to_csv(other, index=False)
    assert one_error(invoke(runner, "evaluate", tmp_path / "out", other)) == (
        f"{other}: missing feature column(s) the model was trained on: colour. "
        "The model needs: x1, x2, count, colour."
    )


# --- quickstart --------------------------------------------------------------------------------


def test_quickstart_creates_the_example_and_passes(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = invoke(runner, "quickstart", folder, "-q")
    assert result.exit_code == 0, result.output
    assert "credit-risk: PASSED" in result.stdout
    for name in ("mlgate.yaml", "schema.yaml", "data/train.csv", "data/test.csv"):
        assert (folder / name).is_file()
    runs = list((folder / ".mlgate" / "runs" / "credit-risk").iterdir())
    assert len(runs) == 1
    assert (runs[0] / "model.skops").is_file()


def test_quickstart_refuses_a_folder_that_is_not_empty(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert one_error(invoke(runner, "quickstart", tmp_path, "-q")) == (
        f"{tmp_path}: the folder exists and is not empty. "
        "Pass --force to write the example's files into it, or name another folder."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_quickstart_refuses_a_file(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    assert one_error(invoke(runner, "quickstart", tmp_path / "taken")) == (
        f"{tmp_path / 'taken'}: exists and is not a folder. Name another folder."
    )


def test_quickstart_force_keeps_what_else_is_in_the_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlgate.scaffold import example

    monkeypatch.setattr(
        example,
        "EXAMPLE_CONFIG",
        example.EXAMPLE_CONFIG.replace("n_estimators: 100", "n_estimators: 10").replace(
            "cv_folds: 5", "cv_folds: 0"
        ),
    )
    (tmp_path / "notes.txt").write_text("mine")
    result = invoke(runner, "quickstart", tmp_path, "--force", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "mlgate.yaml").is_file()


def test_error_lines_do_not_leak_rich_markup(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame
) -> None:
    config = new_project(binary_frame, target="[bold]x")
    message = one_error(invoke(runner, "run", "--no-register", "-c", config, "-q"))
    assert re.search(r"target column '\[bold\]x' is not in the data", message)


def test_an_output_folder_that_cannot_be_made(
    runner: CliRunner, new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = new_project(binary_frame)
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    message = one_error(invoke(runner, "train", "-c", config, "-q", "-o", blocker / "out"))
    assert message.startswith(f"cannot create the output folder '{blocker / 'out'}' (")
    assert message.endswith("). Pass -o/--output with a folder you can write to.")


def test_evaluate_refuses_text_targets_for_a_regressor(
    runner: CliRunner, new_project: NewProject, diabetes_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {"estimator": "sklearn.linear_model.Ridge", "cv_folds": 0}
    config = new_project(diabetes_frame, target="progression", model=model)
    assert invoke(runner, "train", "-c", config, "-q", "-o", tmp_path / "out").exit_code == 0
    labelled = tmp_path / "labelled.csv"
    diabetes_frame.assign(progression="high").to_csv(labelled, index=False)
    assert one_error(invoke(runner, "evaluate", tmp_path / "out", labelled)) == (
        f"{labelled}: target column 'progression' holds text (e.g. 'high'), but the model is "
        "a regressor that predicts numbers. Evaluate on data whose target column holds numbers."
    )


def test_what_an_estimator_prints_stays_off_the_json(
    runner: CliRunner, project: Path, chatty: str, tmp_path: Path
) -> None:
    doc = yaml.safe_load(project.read_text(encoding="utf-8"))
    doc["model"] = {"estimator": chatty, "params": {"C": 0.5, "verbosity": -1}, "cv_folds": 2}
    project.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = invoke(runner, "train", "-c", project, "--json", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert payload["passed"] is True
    assert "[Chatty] [Info]" in result.stderr


def test_run_json_stays_one_document_when_the_estimator_prints(
    runner: CliRunner, new_project: Callable[..., Path], binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # Without verbose: -1, LightGBM prints a few dozen [LightGBM] lines while it fits.
    model = {"estimator": "lightgbm.LGBMClassifier", "params": {"n_estimators": 5}, "cv_folds": 2}
    config = new_project(binary_frame, model=model)
    result = invoke(runner, "run", "--no-register", "-c", config, "--json", "-o", tmp_path / "o")
    assert "[LightGBM]" not in result.stdout
    assert json.loads(result.stdout)["passed"] in (True, False)
