"""`mlgate compare` on run folders and registry references, and `mlgate gate` on its file."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner, Result

from mlgate.cli import app

ENV = ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL", "MLGATE_ACTOR")
FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10},
    "cv_folds": 0,
}
DUMMY = {"estimator": "sklearn.dummy.DummyClassifier", "cv_folds": 0}
#: A config path that does not exist: compare without a project's gates, so no verdict.
NO_CONFIG = "no-such-mlgate.yaml"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error(result: Result) -> str:
    """The single `error:` line a failed command printed, checked to be all it printed."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


@dataclass(frozen=True)
class Models:
    """Run folders and a registry: a forest (v1, champion) and a dummy (v2, failed)."""

    config: Path
    forest: Path
    dummy: Path
    three_classes: Path
    other_target: Path

    @property
    def project(self) -> Path:
        return self.config.parent


def frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = 240
    data = pd.DataFrame(
        {"x1": rng.normal(0, 1, rows).round(4), "colour": rng.choice(["red", "blue"], rows)}
    )
    signal = data["x1"] + 0.8 * (data["colour"] == "red") + rng.normal(0, 0.3, rows)
    data["label"] = np.where(signal > 0.3, "yes", "no")
    data["outcome"] = data["label"]
    data["grade"] = np.select([signal < -0.2, signal < 0.8], ["low", "mid"], "high")
    return data


def project(
    folder: Path, model: dict[str, Any], *, target: str = "label", three: bool = False
) -> Path:
    """Write the data, a schema naming the columns and an mlgate.yaml into `folder`.

    `three`: the label is the three-valued grade rather than yes/no.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = frame()
    if three:
        data["label"] = data["grade"]
    data.iloc[:160].to_csv(folder / "train.csv", index=False)
    data.iloc[160:].to_csv(folder / "test.csv", index=False)
    schema = {"columns": {name: {} for name in data}}
    (folder / "schema.yaml").write_text(yaml.safe_dump(schema), encoding="utf-8")
    others = [c for c in ("label", "outcome", "grade") if c != target]
    config = {
        "name": "demo",
        "data": {"train": "train.csv", "test": "test.csv", "target": target, "drop": others},
        "schema": "schema.yaml",
        "model": model,
        "gates": {"max_regression": {"accuracy": 0.02}},
    }
    path = folder / "mlgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[Models]:
    root = tmp_path_factory.mktemp("compare")
    (root / "project" / ".mlgate").mkdir(parents=True)
    shutil.copyfile(mlflow_template, root / "project" / ".mlgate" / "mlflow.db")
    with pytest.MonkeyPatch.context() as env:
        for name in ENV:
            env.delenv(name, raising=False)
        folders = []
        for model in (FOREST, DUMMY):
            config = project(root / "project", model)
            result = invoke("run", "-c", config, "-q", "--json")
            assert result.exit_code in (0, 1), result.output
            folders.append(Path(json.loads(result.stdout)["output_dir"]))
        trained = []
        for name, other in (
            ("three", project(root / "three", FOREST, three=True)),
            ("other", project(root / "other", FOREST, target="outcome")),
        ):
            result = invoke("train", "-c", other, "-o", root / f"{name}-run", "-q")
            assert result.exit_code == 0, result.output
            trained.append(root / f"{name}-run")
        yield Models(config, folders[0], folders[1], trained[0], trained[1])


@pytest.fixture(autouse=True)
def _no_registry_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --- compare -------------------------------------------------------------------------------


def test_compare_two_run_folders_writes_json_markdown_and_html(
    models: Models, tmp_path: Path
) -> None:
    out, md, page = tmp_path / "comparison.json", tmp_path / "c.md", tmp_path / "c.html"
    result = invoke(
        "compare", "--baseline", models.forest, "--candidate", models.dummy,
        "-o", out, "--markdown", md, "--html", page, "-c", NO_CONFIG,
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # no config, so no verdict to fail
    comparison = read(out)
    for side in ("baseline", "new"):
        assert {"accuracy", "precision", "recall", "f1"} <= set(comparison[side])
        assert all(isinstance(comparison[side][m], float) for m in ("accuracy", "f1"))
    candidate_run = read(models.dummy / "run.json")
    assert comparison["training_time"] == candidate_run["training_time_s"] > 0
    measured = (models.dummy / "model.skops").stat().st_size / 1e6
    assert comparison["model_size_mb"] == measured == comparison["new"]["model_size_mb"]
    assert comparison["baseline"]["model_size_mb"] == (
        (models.forest / "model.skops").stat().st_size / 1e6
    )
    assert comparison["baseline"]["model_size_mb"] != comparison["model_size_mb"]
    assert comparison["test_samples"] == 80  # the candidate's saved test rows
    accuracy = comparison["metrics"]["accuracy"]
    assert accuracy["difference"] < -0.1
    assert accuracy["ci_low"] <= accuracy["difference"] <= accuracy["ci_high"]
    assert accuracy["confidence"] == 0.95
    assert 0 <= accuracy["p_value"] < 0.01
    assert comparison["mcnemar"]["p_value"] == accuracy["p_value"]
    assert comparison["verdict"] is None
    assert "accuracy" in md.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page.read_text("utf-8"))
    assert len(images) >= 2
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "McNemar exact" in result.stdout


def test_compare_shows_the_features_whose_importance_moved_most(
    models: Models, tmp_path: Path
) -> None:
    forest = read(models.forest / "model.json")["importance"]
    dummy = read(models.dummy / "model.json")["importance"]
    assert forest["score"] == "accuracy"
    assert forest["repeats"] == 3
    assert forest["rows"] == 80
    assert set(forest["mean"]) == {"x1", "colour"}
    assert forest["mean"]["x1"] > forest["mean"]["colour"] > 0  # x1 carries most signal
    assert dummy["mean"] == {"x1": 0.0, "colour": 0.0}  # a constant answer leans on nothing
    profile = read(models.forest / "profile.json")
    assert profile["importance"] == forest["mean"]  # drift findings are ranked by it
    out, md, page = tmp_path / "comparison.json", tmp_path / "c.md", tmp_path / "c.html"
    result = invoke(
        "compare", "--baseline", models.forest, "--candidate", models.dummy,
        "-o", out, "--markdown", md, "--html", page, "-c", NO_CONFIG,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    moved = read(out)["importance"]
    assert [c["feature"] for c in moved] == ["x1", "colour"]
    assert moved[0] == {
        "feature": "x1",
        "baseline": forest["mean"]["x1"],
        "candidate": 0.0,
        "change": -forest["mean"]["x1"],
    }
    text = md.read_text(encoding="utf-8")
    assert "### Feature importance that moved most" in text
    assert f"| x1 | {forest['mean']['x1']:.3f} | 0.000 | {-forest['mean']['x1']:+.3f} |" in text
    assert "Feature importance that moved most" in page.read_text(encoding="utf-8")


def test_compare_with_the_project_s_gates_exits_1_on_a_regression(models: Models) -> None:
    result = invoke(
        "compare", "--baseline", models.forest, "--candidate", models.dummy, "-c", models.config
    )
    assert result.exit_code == 1, result.output
    assert "✗ accuracy: loss against the champion +" in result.stdout
    assert result.stdout.rstrip().endswith("FAILED")
    same = invoke(
        "compare", "--baseline", models.forest, "--candidate", models.forest, "-c", models.config
    )
    assert same.exit_code == 0, same.output
    assert same.stdout.rstrip().endswith("PASSED")


def test_compare_registry_references(models: Models, tmp_path: Path) -> None:
    out = tmp_path / "comparison.json"
    result = invoke(
        "compare", "--baseline", "demo@champion", "--candidate", "models:/demo/2",
        "-c", models.config, "-o", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    printed = json.loads(result.stdout)
    assert printed == read(out)
    assert (printed["baseline_ref"], printed["candidate_ref"]) == (
        "demo@champion",
        "models:/demo/2",
    )
    assert printed["data"] == "models:/demo/2 test set"
    assert printed["test_samples"] == 80
    assert printed["verdict"]["passed"] is False
    by_folder = read_compare(models.forest, models.dummy, tmp_path / "folders.json")
    assert (
        by_folder["metrics"]["accuracy"]["difference"]
        == printed["metrics"]["accuracy"]["difference"]
    )


def read_compare(baseline: Path, candidate: Path, out: Path) -> Any:
    result = invoke(
        "compare", "--baseline", baseline, "--candidate", candidate, "-o", out, "-c", NO_CONFIG
    )
    assert result.exit_code == 0, result.output
    return read(out)


# --- gate ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison_file(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gate") / "comparison.json"
    read_compare(models.forest, models.dummy, out)
    return out


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (("--min-accuracy", "0.3", "--max-regression", "0.5"), 0),
        (("--min-accuracy", "0.99"), 1),
        (("--max-regression", "0.02"), 1),
        (("--min-accuracy", "0.3", "--max-regression", "0.02"), 1),
    ],
)
def test_gate_on_a_comparison_file(
    comparison_file: Path, flags: tuple[str, ...], code: int
) -> None:
    result = invoke("gate", comparison_file, *flags, "-c", NO_CONFIG)
    assert result.exit_code == code, result.output
    assert result.stdout.rstrip().endswith("PASSED" if code == 0 else "FAILED")


def test_gate_reports_each_threshold(comparison_file: Path) -> None:
    accuracy = read(comparison_file)["new"]["accuracy"]
    result = invoke("gate", comparison_file, "--min-accuracy", "0.99", "-c", NO_CONFIG)
    assert f"✗ accuracy {accuracy:.4f} < min 0.99" in result.stdout
    verdict = invoke("gate", comparison_file, "--min-accuracy", "0.3", "--json", "-c", NO_CONFIG)
    assert json.loads(verdict.stdout)["passed"] is True


def test_gate_on_files_that_are_not_comparisons(models: Models, tmp_path: Path) -> None:
    markdown = tmp_path / "c.md"
    markdown.write_text("# not json", encoding="utf-8")
    said = one_error(invoke("gate", markdown, "--min-accuracy", "0.5"))
    assert said.startswith(f"{markdown}: cannot read it as JSON (Expecting value")
    assert said.endswith("Pass the comparison.json of mlgate compare -o or a run's metrics.json.")
    other = tmp_path / "other.json"
    other.write_text('{"rows": [1, 2]}', encoding="utf-8")
    assert one_error(invoke("gate", other, "--min-accuracy", "0.5")) == (
        f"{other}: not a comparison file written by `mlgate compare -o`, nor a run's "
        "metrics.json. Pass the comparison.json that mlgate compare wrote, or a run's "
        "metrics.json."
    )
    missing = tmp_path / "nothing.json"
    assert one_error(invoke("gate", missing)) == (
        f"{missing}: comparison file not found. Write one with mlgate compare -o, or pass "
        "a run's metrics.json."
    )


@pytest.mark.parametrize("name", ["metrics.json", "run.json"])
def test_gate_on_a_run_s_metrics_judges_the_absolute_floors(models: Models, name: str) -> None:
    """The chapter's check_threshold: a run's metrics file against a floor."""
    path = models.forest / name
    accuracy = read(models.forest / "metrics.json")["accuracy"]
    passed = invoke("gate", path, "--min-accuracy", "0.3", "-c", NO_CONFIG)
    assert passed.exit_code == 0, passed.output
    assert f"✓ accuracy {accuracy:.4f} >= min 0.3" in passed.stdout
    failed = invoke("gate", path, "--min-accuracy", "0.999", "-c", NO_CONFIG)
    assert failed.exit_code == 1, failed.output
    assert f"✗ accuracy {accuracy:.4f} < min 0.999" in failed.stdout
    assert one_error(invoke("gate", path, "--max-regression", "0.1", "-c", NO_CONFIG)) == (
        f"{path}: --max-regression needs a baseline, and a run's metrics file has none. "
        "Compare with the champion first (mlgate compare -o comparison.json) and gate that "
        "file; or judge this one with --min-accuracy."
    )
    assert one_error(invoke("gate", path, "-c", NO_CONFIG)) == (
        f"{path}: a run's metrics file is judged by absolute floors and ceilings, and none "
        "is set. Pass --min-accuracy or --min/--max NAME=VALUE (e.g. --min r2=0.8), or set "
        "gates.min / gates.max in mlgate.yaml."
    )


def test_gate_on_a_regressor_s_metrics_takes_any_metric_by_name(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"rmse": 3.2, "mae": 2.1, "r2": 0.71}), encoding="utf-8")
    passed = invoke("gate", path, "--min", "r2=0.7", "--max", "rmse=3.5", "-c", NO_CONFIG)
    assert passed.exit_code == 0, passed.output
    assert "✓ r2 0.7100 >= min 0.7" in passed.stdout
    assert "✓ rmse 3.2000 <= max 3.5" in passed.stdout
    failed = invoke("gate", path, "--min", "r2=0.8", "-c", NO_CONFIG)
    assert failed.exit_code == 1, failed.output
    assert "✗ r2 0.7100 < min 0.8" in failed.stdout
    assert one_error(invoke("gate", path, "--min-accuracy", "0.8", "-c", NO_CONFIG)) == (
        f"{path}: --min-accuracy: this file holds a regression model's metrics, which have no "
        "'accuracy'. Allowed: rmse, mae, r2. Judge one of those with --min/--max NAME=VALUE "
        "(e.g. --min r2=0.8)."
    )
    assert one_error(invoke("gate", path, "--min", "r22=0.5", "-c", NO_CONFIG)) == (
        f"{path}: --min: this file holds a regression model's metrics, which have no 'r22'. "
        "Allowed: rmse, mae, r2. Did you mean r2?"
    )
    bad = invoke("gate", path, "--min", "r2", "-c", NO_CONFIG)
    assert bad.exit_code == 2
    assert "'r2' is not NAME=VALUE with a number (e.g. r2=0.8)." in " ".join(bad.output.split())


# --- what cannot be compared: exit 2, one line ---------------------------------------------


def test_models_with_different_label_sets(models: Models) -> None:
    message = one_error(
        invoke("compare", "--baseline", models.forest, "--candidate", models.three_classes)
    )
    assert message == (
        f"the models know different label sets: ['no', 'yes'] ({models.forest}) and "
        f"['high', 'low', 'mid'] ({models.three_classes}). Compare models trained on the "
        "same labels."
    )


def test_models_of_different_targets(models: Models) -> None:
    message = one_error(
        invoke("compare", "--baseline", models.forest, "--candidate", models.other_target)
    )
    assert message == (
        f"the models predict different targets: 'label' ({models.forest}) and 'outcome' "
        f"({models.other_target})."
    )


def test_comparison_data_without_the_target(models: Models, tmp_path: Path) -> None:
    data = tmp_path / "unlabelled.csv"
    frame().drop(columns=["label"]).to_csv(data, index=False)
    message = one_error(
        invoke("compare", "--baseline", models.forest, "--candidate", models.dummy, "--data", data)
    )
    assert message == f"{data}: the data has no target column 'label'."


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (
            None,
            "the target column 'label' is missing in 1 of 240 row(s). "
            "Compare on labelled rows only.",
        ),
        (
            "maybe",
            "the target holds label(s) neither model was trained on: 'maybe' (1 of 240 rows); "
            "they know 'no', 'yes'. Compare on data labelled like the training data.",
        ),
    ],
)
def test_comparison_data_with_labels_the_models_cannot_score(
    models: Models, tmp_path: Path, label: str | None, message: str
) -> None:
    rows = frame()
    rows.loc[0, "label"] = label
    data = tmp_path / "rows.csv"
    rows.to_csv(data, index=False)
    error = one_error(
        invoke("compare", "--baseline", models.forest, "--candidate", models.dummy, "--data", data)
    )
    assert error == f"{data}: {message}"


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        (
            "models:/x",
            "cannot read the model reference 'models:/x'. Write models:/NAME/VERSION, "
            "models:/NAME@ALIAS (or NAME@ALIAS), or a run folder.",
        ),
        ("models:/nope/1", "no registered model named 'nope'. Registered: demo."),
        ("demo@staging", None),
    ],
)
def test_unknown_or_malformed_references(
    models: Models, baseline: str, message: str | None
) -> None:
    error = one_error(
        invoke("compare", "--baseline", baseline, "--candidate", models.dummy, "-c", models.config)
    )
    if message is None:
        assert error.startswith("model 'demo' has no version with alias 'staging'. Aliases: ")
    else:
        assert error == message


def test_report_folders_are_made_and_an_unwritable_path_is_a_usage_error(
    models: Models, tmp_path: Path
) -> None:
    nested = tmp_path / "reports" / "pr-12" / "comparison.json"
    assert read_compare(models.forest, models.dummy, nested)["test_samples"] == 80
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    target = blocker / "comparison.json"
    message = one_error(
        invoke("compare", "--baseline", models.forest, "--candidate", models.dummy, "-o", target)
    )
    assert message == (
        f"{target}: -o/--output: cannot write the report (File exists). "
        "Pass a path in a folder you can write to."
    )


def test_accuracy_flags_on_a_comparison_without_accuracy_are_a_usage_error(
    comparison_file: Path, tmp_path: Path
) -> None:
    regression = read(comparison_file) | {"task": "regression"}
    regression["metrics"].pop("accuracy")
    path = tmp_path / "regression.json"
    path.write_text(json.dumps(regression), encoding="utf-8")
    assert one_error(invoke("gate", path, "--min-accuracy", "0.5", "-c", NO_CONFIG)) == (
        f"{path}: --min-accuracy and --max-regression judge accuracy, and this regression "
        "comparison has none. Judge it with --min/--max NAME=VALUE on its own metrics (e.g. "
        "--min r2=0.8 --max rmse=3), or by the config's gates (drop the flags)."
    )


@pytest.mark.parametrize("flag", [("--min-accuracy", "1.5"), ("--max-regression", "-0.1")])
def test_thresholds_outside_0_and_1_are_refused(
    comparison_file: Path, flag: tuple[str, str]
) -> None:
    result = invoke("gate", comparison_file, *flag, "-c", NO_CONFIG)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag[0]}'" in result.output
