"""The road in one function: every output on disk, lineage, determinism, and where it stops."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mlgate.config.loader import config_hash, load_config
from mlgate.data.schema import load_schema
from mlgate.errors import ConfigError, DataError
from mlgate.registry.bundle import load_bundle
from mlgate.road.evaluate import evaluate_saved
from mlgate.road.run import run
from mlgate.training.preprocessing import prepare_features

NewProject = Callable[..., Path]


def exact(message: str) -> str:
    return f"^{re.escape(message)}$"


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip()


def loose_schema(folder: Path, frame: pd.DataFrame) -> str:
    """A schema that only names each column, so test rows outside train's ranges validate."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.yaml").write_text(yaml.safe_dump({"columns": {key: {} for key in frame}}))
    return "schema.yaml"


def test_a_run_writes_every_output(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    config = load_config(new_project(binary_frame, evaluation={"slices": ["colour"]}))
    out = tmp_path / "out"
    result = run(config, output=out)
    assert result.passed
    assert result.stage == "done"
    assert result.task == "classification"
    written = {p.name for p in out.iterdir()}
    assert written >= {
        "metrics.json",
        "model.json",
        "model.skops",
        "run.json",
        "schema.yaml",
        "summary.md",
    }
    assert json.loads((out / "metrics.json").read_text()) == result.metrics
    assert json.loads((out / "run.json").read_text())["metrics"] == result.metrics
    assert {s.value for s in result.evaluation.slices} == {"red", "green", "blue"}  # type: ignore[union-attr]
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# demo: PASSED\n")
    assert f"| accuracy | {result.metrics['accuracy']:.4f} |" in summary


def test_the_saved_model_predicts_what_was_evaluated(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    test = binary_frame.iloc[200:]
    schema = loose_schema(tmp_path / "project", binary_frame)
    config = load_config(new_project(binary_frame.iloc[:200], test=test, schema=schema))
    result = run(config, output=tmp_path / "out")
    assert result.passed, result.reasons
    model, card = load_bundle(tmp_path / "out")
    assert card.classes == ["no", "yes"]
    assert card.features == ["x1", "x2", "count", "colour"]
    predicted = model.predict(prepare_features(test, card.kinds))
    assert set(predicted) <= {"no", "yes"}
    assert result.metrics["accuracy"] == pytest.approx(np.mean(predicted == test["label"]))


@pytest.mark.parametrize(
    ("frame_name", "labels", "classes"),
    [
        ("multiclass_frame", None, [0, 1, 2]),
        ("multiclass_frame", {0: "low", 1: "mid", 2: "high"}, ["high", "low", "mid"]),
        ("binary_frame", None, ["no", "yes"]),
        ("binary_frame", {"no": 0, "yes": 1}, [0, 1]),
        ("binary_frame", {"no": False, "yes": True}, [False, True]),
    ],
    ids=["multiclass-int", "multiclass-str", "binary-str", "binary-int", "binary-bool"],
)
def test_classification_with_each_kind_of_label(
    new_project: NewProject,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    frame_name: str,
    labels: dict[object, object] | None,
    classes: list[object],
) -> None:
    frame = request.getfixturevalue(frame_name)
    if labels is not None:
        frame = frame.assign(label=frame["label"].map(labels))
    result = run(load_config(new_project(frame)), output=tmp_path / "out")
    assert result.task == "classification"
    card = json.loads((tmp_path / "out" / "model.json").read_text())
    assert card["classes"] == classes
    assert result.metrics["accuracy"] > 0.7  # type: ignore[operator]
    assert result.metrics["roc_auc"] is not None
    model, _ = load_bundle(tmp_path / "out")
    assert list(model.classes_) == classes


def test_regression_on_the_diabetes_data(
    new_project: NewProject, diabetes_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 0.5}, "cv_folds": 3}
    path = new_project(
        diabetes_frame, target="progression", model=model, gates={"min": {"r2": 0.3}}
    )
    result = run(load_config(path), output=tmp_path / "out")
    assert result.task == "regression"
    assert list(result.metrics) == ["rmse", "mae", "r2"]
    assert result.passed, result.reasons
    assert 40 < result.metrics["rmse"] < 70  # type: ignore[operator]
    assert [cv.metric for cv in result.cross_validation] == ["rmse", "r2"]


def test_the_same_config_and_data_give_identical_metrics(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 8},
        "cv_folds": 3,
    }
    config = load_config(new_project(binary_frame, model=model))
    run(config, output=tmp_path / "a")
    run(config, output=tmp_path / "b")
    first = (tmp_path / "a" / "metrics.json").read_bytes()
    assert first == (tmp_path / "b" / "metrics.json").read_bytes()
    runs = [json.loads((tmp_path / n / "run.json").read_text()) for n in "ab"]
    assert runs[0]["cross_validation"] == runs[1]["cross_validation"]


def test_run_json_records_the_lineage(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame, test=binary_frame.iloc[:40], seed=11)
    folder = path.parent
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "data and config")
    head = git(folder, "rev-parse", "HEAD")
    config = load_config(path)
    run(config)  # writes under .mlgate/, which must not count as a change to the repository
    result = run(config)
    saved = json.loads(Path(result.files["run"]).read_text())
    lineage = saved["lineage"]
    assert lineage["git_commit"] == head
    assert lineage["git_dirty"] is False
    train_bytes = (folder / "train.csv").read_bytes()
    assert lineage["train_fingerprint"] == f"sha256:{hashlib.sha256(train_bytes).hexdigest()}"
    test_bytes = (folder / "test.csv").read_bytes()
    assert lineage["test_fingerprint"] == f"sha256:{hashlib.sha256(test_bytes).hexdigest()}"
    assert lineage["config_hash"] == config_hash(config)
    assert lineage["seed"] == 11
    assert lineage["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert lineage["packages"]["skops"] == metadata.version("skops")
    assert saved["training_time_s"] > 0
    model_file = Path(result.files["model"])
    assert saved["model"]["size_bytes"] == model_file.stat().st_size
    assert saved["model"]["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert Path(result.output_dir).parent == folder / ".mlgate" / "runs" / "demo"

    (folder / "train.csv").write_bytes(train_bytes + b"")
    (folder / "notes.txt").write_text("changed")
    assert run(config).lineage.git_dirty is True


def test_outside_a_git_repository_there_is_no_commit(
    new_project: NewProject,
    binary_frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    result = run(load_config(new_project(binary_frame)), output=tmp_path / "out")
    assert (result.lineage.git_commit, result.lineage.git_dirty) == (None, None)


def test_without_a_schema_one_is_inferred_and_saved(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    run(load_config(new_project(binary_frame)), output=tmp_path / "out")
    schema = load_schema(tmp_path / "out" / "schema.yaml")
    assert list(schema.columns) == ["x1", "x2", "count", "colour", "label"]
    assert schema.columns["colour"].categories == ["blue", "green", "red"]
    assert "inferred" in (tmp_path / "out" / "schema.yaml").read_text().splitlines()[0]


def test_validation_violations_stop_the_road_before_training(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    schema = {
        "columns": {
            "x1": {"dtype": "float", "min": -1.0, "max": 1.0},
            "x2": {"dtype": "float"},
            "count": {"dtype": "int"},
            "colour": {"dtype": "string", "categories": ["red", "green"]},
            "label": {"dtype": "string"},
        }
    }
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "schema.yaml").write_text(yaml.safe_dump(schema))
    result = run(
        load_config(new_project(binary_frame, schema="schema.yaml")), output=tmp_path / "out"
    )
    assert not result.passed
    assert result.stage == "validate"
    assert result.metrics == {}
    assert not (tmp_path / "out" / "model.skops").exists()
    rules = {(v.column, v.rule) for v in result.validation["train"].violations}
    assert rules == {("x1", "below_min"), ("x1", "above_max"), ("colour", "unknown_category")}
    assert any(r.startswith("train data: colour: ") for r in result.reasons)
    assert (tmp_path / "out" / "summary.md").read_text().startswith("# demo: FAILED at validate")


def test_a_failed_gate_keeps_the_model_and_lists_every_reason(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    gates = {"min": {"accuracy": 0.999, "f1": 0.5}, "max": {"log_loss": 0.0001}}
    result = run(load_config(new_project(binary_frame, gates=gates)), output=tmp_path / "out")
    assert not result.passed
    assert result.stage == "gate"
    assert [c.metric for c in result.gates.failures] == ["accuracy", "log_loss"]  # type: ignore[union-attr]
    accuracy, log_loss = result.metrics["accuracy"], result.metrics["log_loss"]
    assert result.reasons == [
        f"accuracy {accuracy:.4f} < min 0.999",
        f"log_loss {log_loss:.4f} > max 0.0001",
    ]
    assert (tmp_path / "out" / "model.skops").exists()


def test_apply_gates_false_trains_without_judging(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame, gates={"min": {"accuracy": 0.999}})
    result = run(load_config(path), output=tmp_path / "out", apply_gates=False)
    assert result.passed
    assert result.gates is None


def test_a_gate_on_an_unknown_metric_stops_before_training(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame, gates={"min": {"acuracy": 0.9}})
    with pytest.raises(
        ConfigError,
        match=exact(
            f"{path}: gates.min.acuracy: unknown classification metric 'acuracy'. Allowed: "
            "accuracy, balanced_accuracy, precision, recall, f1, precision_macro, recall_macro, "
            "f1_macro, roc_auc, log_loss. Did you mean accuracy?"
        ),
    ):
        run(load_config(path), output=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_gate_on_a_metric_the_model_cannot_give_fails_with_the_reason(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {"estimator": "sklearn.svm.LinearSVC", "cv_folds": 0}
    path = new_project(binary_frame, model=model, gates={"min": {"roc_auc": 0.5}})
    result = run(load_config(path), output=tmp_path / "out")
    assert not result.passed
    assert result.reasons == [
        "roc_auc was not computed: it needs predicted probabilities, "
        "and this model has no predict_proba"
    ]


def test_estimator_warnings_are_kept_in_the_result(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 1},
        "cv_folds": 2,
    }
    result = run(load_config(new_project(binary_frame, model=model)), output=tmp_path / "out")
    fitting, compared = result.warnings  # once each; and the champion was not consulted
    assert fitting.startswith("ConvergenceWarning: lbfgs failed to converge")
    assert compared.startswith("not compared with the champion")


def test_a_config_error_comes_before_any_data_is_read(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(
        binary_frame,
        model={
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 0},
        },
    )
    (path.parent / "train.csv").write_text("")  # would be a DataError if it were read
    with pytest.raises(ConfigError, match=r"model\.params\.n_estimators"):
        run(load_config(path), output=tmp_path / "out")


def test_labels_in_the_test_file_the_model_never_saw(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    test = binary_frame.iloc[200:].copy()
    test.loc[test.index[:3], "label"] = "maybe"
    schema = loose_schema(tmp_path / "project", binary_frame)
    path = new_project(binary_frame.iloc[:200], test=test, schema=schema)
    with pytest.raises(
        DataError,
        match=exact(
            "test.csv: the target holds label(s) the model never saw in training: 'maybe' "
            "(3 of 40 rows); it knows 'no', 'yes'. "
            "Evaluate on data labelled like the training data, or retrain with them."
        ),
    ):
        run(load_config(path), output=tmp_path / "out", apply_gates=False)


def test_a_slice_column_that_is_not_in_the_data(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame, evaluation={"slices": ["region"]})
    with pytest.raises(
        ConfigError,
        match=exact(
            f"{path}: evaluation.slices: slice column(s) not in the data of train.csv: region. "
            "Allowed: x1, x2, count, colour, label."
        ),
    ):
        run(load_config(path), output=tmp_path / "out")


def test_without_a_schema_a_typo_in_a_column_of_numbers_is_refused(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = binary_frame.astype({"x2": object})
    frame.loc[[4, 9], "x2"] = ["oops", "12,5"]
    path = new_project(frame)
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: column(s) of numbers with a few values that are not numbers, which "
            "would make them categories: 'x2' (2 of 240 values, e.g. 'oops', '12,5'). "
            "Fix or blank those values; or, if the column is text, give the config a schema "
            "(`mlgate schema infer`) that says dtype: string."
        ),
    ):
        run(load_config(path), output=tmp_path / "out")


def test_warnings_are_in_the_summary(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    model = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 1},
        "cv_folds": 0,
    }
    run(load_config(new_project(binary_frame, model=model)), output=tmp_path / "out")
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Warnings\n\n- ConvergenceWarning: lbfgs failed to converge" in summary


def test_evaluate_saved_scores_a_run_folder_on_a_file(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame)
    result = run(load_config(path), output=tmp_path / "out")
    card, scored = evaluate_saved(tmp_path / "out", path.parent / "train.csv")
    assert card.name == "demo"
    assert scored.rows == 240
    assert scored.metrics["accuracy"] >= result.metrics["accuracy"]  # type: ignore[operator]
    empty = tmp_path / "empty.csv"
    binary_frame.iloc[:0].to_csv(empty, index=False)
    with pytest.raises(
        DataError,
        match=exact(
            f"{empty}: the data has a header (5 column(s)) but no rows. "
            "Pass a file with labelled rows."
        ),
    ):
        evaluate_saved(tmp_path / "out", empty)


CONFIG = """\
name: labels
data: {train: train.csv, target: y, split: {test_size: 0.3, seed: 1}}
model: {estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 500}, cv_folds: 0}
gates: {max_regression: {accuracy: 0.05}}
"""


def _write(folder: Path, classes: int) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = np.digitize(x[:, 0], np.linspace(-1, 1, classes - 1)) if classes > 2 else (x[:, 0] > 0)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": [f"c{int(v)}" for v in y]})
    frame.to_csv(folder / "train.csv", index=False)
    (folder / "mlgate.yaml").write_text(CONFIG)
    return folder / "mlgate.yaml"


def test_a_new_label_set_is_registered_failed_not_refused(tmp_path: Path) -> None:
    first = run(load_config(_write(tmp_path, 2)), register=True)
    assert first.registration is not None
    assert first.registration.alias == "champion"
    second = run(load_config(_write(tmp_path, 3)), register=True)
    assert not second.passed
    assert second.registration is not None
    assert second.registration.alias is None
    assert any(r.startswith("cannot compare with the champion:") for r in second.reasons), (
        second.reasons
    )


def test_a_model_the_gateway_cannot_load_is_never_registered_as_passing(
    new_project: Any, binary_frame: pd.DataFrame, registry_for: Any, chatty: str
) -> None:
    path = new_project(binary_frame, model={"estimator": chatty, "cv_folds": 0})
    registry_for(path.parent)
    result = run(load_config(path), register=True)
    assert not result.passed
    assert result.registration is not None
    assert result.registration.alias is None  # registered, marked failed: no champion
    (reason,) = [r for r in result.reasons if "loaded back" in r]
    assert reason.startswith(
        "it cannot be loaded back as the gateway loads it: refusing to load a model file that "
        "contains untrusted type(s): chatty_models.Chatty."
    )


def test_the_load_back_check_owes_nothing_to_the_training_process(
    new_project: Any,
    binary_frame: pd.DataFrame,
    registry_for: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the training process changed in itself (here: how a class predicts) is not
    # in the file the gateway loads: a fresh process must answer as the run measured.
    from sklearn.linear_model import LogisticRegression

    original = LogisticRegression.predict
    monkeypatch.setattr(
        LogisticRegression, "predict", lambda self, X: original(self, X)[::-1], raising=True
    )
    model = {"estimator": "sklearn.linear_model.LogisticRegression", "cv_folds": 0}
    path = new_project(binary_frame, model=model, gates={"min": {"accuracy": 0.0}})
    registry_for(path.parent)
    result = run(load_config(path), register=True)
    assert not result.passed
    assert result.registration is not None
    assert result.registration.alias is None
    assert [r for r in result.reasons if "loaded back" in r] == [
        "loaded back, it predicts otherwise than the model fitted. A version the gateway "
        "cannot load is never registered as passing; list the module that defines its "
        "classes under model.code, or use an estimator of scikit-learn, XGBoost or LightGBM"
    ]


def test_a_pipeline_in_the_config_trains_registers_and_loads_back(
    new_project: Any, binary_frame: pd.DataFrame, registry_for: Any
) -> None:
    model = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 500},
        "pipeline": [
            {"transformer": "sklearn.preprocessing.PolynomialFeatures", "params": {"degree": 2}}
        ],
        "cv_folds": 2,
    }
    path = new_project(binary_frame, model=model)
    registry_for(path.parent)
    result = run(load_config(path), register=True)
    assert result.passed, result.reasons
    assert result.registration is not None
    assert result.registration.alias == "champion"
    assert result.task == "classification"


def test_a_data_file_outside_the_project_is_never_quoted(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # A config is code a pull request can change: data.train may name any file the CI
    # runner can read, and the error reaches a public log.
    path = new_project(binary_frame)
    outside = tmp_path / "elsewhere" / "credentials.csv"
    outside.parent.mkdir()
    outside.write_text("user,key\nci,AKIA-not-for-logs,extra\n", encoding="utf-8")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data"]["train"] = str(outside)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        run(load_config(path), output=tmp_path / "out")
    assert "AKIA" not in str(caught.value)
    assert str(caught.value) == (
        f"{outside}: cannot read it as CSV: CSV parse error: Expected 2 columns, got 3. "
        "Check that the file is CSV and not damaged."
    )
    inside = path.parent / "train.csv"  # the project's own file: the row helps find it
    inside.write_text("user,key\nci,AKIA-not-for-logs,extra\n", encoding="utf-8")
    doc["data"]["train"] = "train.csv"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(DataError, match=r"got 3: ci,AKIA-not-for-logs,extra\."):
        run(load_config(path), output=tmp_path / "out")


def test_a_misspelt_column_under_data_drop_is_refused_not_left_among_the_features(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame, data={"drop": ["colour", "cuont"]})
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: data.drop names column(s) that are not in the data: cuont. Did you "
            "mean 'count'? Columns there: x1, x2, count, colour, label."
        ),
    ):
        run(load_config(path), output=tmp_path / "out")
    assert not (tmp_path / "out" / "model.skops").exists()


_NUMBERS = "".join(f"{i},{i % 2}\n" for i in range(19))
_SECRETS = [
    # the header is the file's first line: it is never listed as the columns there are
    (
        "SECRET-HEADER:x:0:0\nsecret-row\nsecret-row\n",
        "sklearn.dummy.DummyClassifier",
        "target column 'default' is not in the data. Set data.target to one of: the file's "
        "1 column(s), not named here: it is outside the project.",
    ),
    (
        "x,default\n1,SECRET-ONE\n2,b\n3,b\n4,b\n5,b\n6,b\n",
        "sklearn.dummy.DummyClassifier",
        "class (not shown) of target 'default' has a single row, too few to hold out a "
        "stratified test set. Add rows of that class, or set data.split.stratify: false.",
    ),
    (
        "x,default\n1,SECRET-A\n2,SECRET-B\n",
        "sklearn.linear_model.LinearRegression",
        "target column 'default' holds text values, which a regressor cannot learn. Use a "
        "classifier (or task: classification), or set data.target to a numeric column.",
    ),
    (
        f"SECRET-COLUMN,default\n{_NUMBERS}SECRET-VALUE,1\n",
        "sklearn.dummy.DummyClassifier",
        "column(s) of numbers with a few values that are not numbers, which would make them "
        "categories: column 1 (1 of 20 values). Fix or blank those values; or, if the column "
        "is text, give the config a schema (`mlgate schema infer`) that says dtype: string.",
    ),
]


@pytest.mark.parametrize(
    ("text", "estimator", "message"), _SECRETS, ids=["header", "class", "regression", "typo"]
)
def test_messages_about_data_outside_the_project_show_none_of_it(
    new_project: NewProject,
    binary_frame: pd.DataFrame,
    tmp_path: Path,
    text: str,
    estimator: str,
    message: str,
) -> None:
    path = new_project(binary_frame)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data"] |= {"target": "default"}
    doc["model"] = {"estimator": estimator, "cv_folds": 0}
    outside = tmp_path / "elsewhere" / "secrets.csv"
    outside.parent.mkdir()
    outside.write_text(text, encoding="utf-8")
    inside = path.parent / "secrets.csv"
    inside.write_text(text, encoding="utf-8")
    for where, shown in ((str(outside), False), ("secrets.csv", True)):
        doc["data"]["train"] = where
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        with pytest.raises(DataError) as caught:
            run(load_config(path), output=tmp_path / "out")
        # The same file in the project: the message names what it found there.
        assert ("SECRET" in str(caught.value)) is shown, str(caught.value)
    doc["data"]["train"] = str(outside)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(DataError, match=f"^{re.escape(f'{outside}: {message}')}$"):
        run(load_config(path), output=tmp_path / "out")


def test_a_validation_report_of_data_outside_the_project_shows_none_of_it(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = new_project(binary_frame)
    outside = tmp_path / "elsewhere" / "secrets.csv"
    outside.parent.mkdir()
    binary_frame.assign(**{"SECRET-COLUMN": "SECRET-VALUE"}).to_csv(outside, index=False)
    schema = {"columns": {name: {} for name in binary_frame}}
    schema["columns"]["x1"] = {"dtype": "float", "max": -100.0}
    (path.parent / "schema.yaml").write_text(yaml.safe_dump(schema), encoding="utf-8")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["data"]["train"] = str(outside)
    doc["schema"] = "schema.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = run(load_config(path), output=tmp_path / "out")
    assert result.stage == "validate"
    # x1 is the schema's: named. The other column is only the file's: its position.
    assert result.reasons == [
        "train data: column 6: column is not in the schema",
        "train data: x1: 240 value(s) above max -100.0",
    ]
    assert all(not v.examples for v in result.validation["train"].violations)
    written = (tmp_path / "out" / "run.json").read_text(encoding="utf-8")
    assert "SECRET" not in written


def test_a_factory_in_the_project_folder_takes_the_road(
    new_project: Any, binary_frame: pd.DataFrame, registry_for: Any
) -> None:
    # No PYTHONPATH: the project's own module is found beside mlgate.yaml, and what it
    # builds from scikit-learn's parts loads anywhere, so it registers as passing.
    model = {"estimator": "road_factory:make_model", "params": {"trees": 5}, "cv_folds": 0}
    path = new_project(binary_frame, model=model, gates={"min": {"accuracy": 0.0}})
    (path.parent / "road_factory.py").write_text(
        "from sklearn.ensemble import RandomForestClassifier\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import PolynomialFeatures\n\n\n"
        "def make_model(trees=10, random_state=None):\n"
        "    return make_pipeline(\n"
        "        PolynomialFeatures(2),\n"
        "        RandomForestClassifier(n_estimators=trees, random_state=random_state),\n"
        "    )\n",
        encoding="utf-8",
    )
    registry_for(path.parent)
    result = run(load_config(path), register=True)
    assert result.passed, result.reasons
    assert result.registration is not None
    assert result.registration.alias == "champion"


TEAM_CODE = """
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

TAG = "{tag}"


class PolyLogit(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.inner_ = LogisticRegression(C=self.C, max_iter=500).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X):
        return self.inner_.predict(X)

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)
"""


def test_the_team_s_own_class_is_stored_with_its_version_and_trusted_for_it_alone(
    new_project: Any, binary_frame: pd.DataFrame, registry_for: Any
) -> None:
    import sys

    from mlgate.project import Project
    from mlgate.registry.refs import load_ref

    model = {"estimator": "team_models.PolyLogit", "code": ["team_models.py"], "cv_folds": 0}
    path = new_project(binary_frame, model=model, gates={"min": {"accuracy": 0.0}})
    code = path.parent / "team_models.py"
    registry_for(path.parent)
    versions = []
    for tag in ("first", "second"):
        code.write_text(TEAM_CODE.format(tag=tag), encoding="utf-8")
        sys.modules.pop("team_models", None)
        result = run(load_config(path), register=True)
        assert result.passed, result.reasons  # loaded back in a fresh process, from the bundle
        assert result.registration is not None
        versions.append(result.registration.version)
    code.unlink()  # the working copy is gone: each version runs its own
    sys.modules.pop("team_models", None)
    catalog = Project(path.parent).catalog
    first, second = (load_ref(f"models:/demo/{v}", catalog=catalog) for v in versions)
    assert first.card.code == ["code/team_models.py"]
    assert first.card.trusted_types == ["team_models.PolyLogit"]
    assert "team_models" not in sys.modules  # loading left nothing behind in the process
    assert type(first.model.steps[-1][1]).__module__ == "team_models"
    own = [m.model.steps[-1][1].predict.__globals__["TAG"] for m in (first, second)]
    assert own == ["first", "second"]
    rows = prepare_features(binary_frame.drop(columns=["label"]), first.card.kinds)
    assert (first.model.predict(rows) == second.model.predict(rows)).all()

    from typer.testing import CliRunner

    from mlgate.cli import app

    shown = CliRunner().invoke(app, ["models", "show", "demo/1", "-c", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "  own code: code/team_models.py\n" in shown.stdout
    assert "  classes trusted for this version only: team_models.PolyLogit\n" in shown.stdout


def test_a_candidate_far_slower_than_the_champion_fails_the_latency_gate(
    new_project: Any, binary_frame: pd.DataFrame, registry_for: Any
) -> None:
    import sys

    fast = {"estimator": "sklearn.linear_model.LogisticRegression", "cv_folds": 0}
    gates: dict[str, Any] = {"min": {"accuracy": 0.0}, "max_regression": {"accuracy": 0.5}}
    path = new_project(binary_frame, model=fast, gates=gates)
    registry_for(path.parent)
    first = run(load_config(path), register=True)
    assert first.registration is not None
    assert first.registration.alias == "champion"  # served by ONNX Runtime
    # A team's own class has no ONNX converter: the gateway would serve it with its library.
    (path.parent / "slow_models.py").write_text(TEAM_CODE.format(tag="slow"), encoding="utf-8")
    slow = {"estimator": "slow_models.PolyLogit", "code": ["slow_models.py"], "cv_folds": 0}
    for limit, passed in ((2.0, False), (None, True)):
        sys.modules.pop("slow_models", None)
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["model"] = slow
        config["gates"] = gates | ({"max_latency_ratio": limit} if limit else {})
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        result = run(load_config(path), register=True)
        assert result.passed is passed, result.reasons
        checks = [c for c in result.gates.checks if c.metric == "p99_latency_ratio"]  # type: ignore[union-attr]
        if limit is None:
            assert checks == []
            continue
        (check,) = checks
        assert re.fullmatch(
            r"p99 latency \d+\.\d\d ms \(served by its own library \(no ONNX\)\) vs champion "
            r"\d+\.\d\d ms: ratio \d+\.\d, limit 2; the canary would roll it back on latency\. "
            r"Export it to ONNX \(see its onnx_note\), choose a lighter model, or raise "
            r"gates\.max_latency_ratio",
            check.reason,
        ), check.reason
        assert result.reasons == [check.reason]


def test_a_categorical_feature_that_looks_like_an_identifier_is_warned_of(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = binary_frame.assign(customer=[f"c-{i:05d}" for i in range(len(binary_frame))])
    path = new_project(frame, schema=loose_schema(tmp_path / "project", frame))
    result = run(load_config(path), output=tmp_path / "out", apply_gates=False)
    rows = len(frame) - result.evaluation.rows  # type: ignore[union-attr]
    assert (
        f"feature 'customer' has {rows} distinct values in {rows} training rows: an "
        "identifier? One-hot encoded, it teaches the model little and makes it larger; list "
        "it under data.drop (or declare it numeric in the schema if it is a number)"
    ) in result.warnings
    assert not [w for w in result.warnings if "'colour'" in w]


def test_rows_with_a_missing_target_are_refused_or_dropped_by_the_setting(
    new_project: NewProject, binary_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = binary_frame.copy()
    frame.loc[[3, 50, 77], "label"] = None
    test = binary_frame.iloc[:40].copy()
    test.loc[[5], "label"] = None
    schema = loose_schema(tmp_path / "project", binary_frame)
    path = new_project(frame, test=test, schema=schema)
    with pytest.raises(
        DataError,
        match=exact(
            "train.csv: target column 'label' is missing in 3 of 240 row(s). Remove or label "
            "those rows, or set data.drop_missing_target: true in mlgate.yaml to leave them "
            "out (counted in the run's result)."
        ),
    ):
        run(load_config(path), output=tmp_path / "refused", apply_gates=False)
    path = new_project(frame, test=test, schema=schema, data={"drop_missing_target": True})
    result = run(load_config(path), output=tmp_path / "out", apply_gates=False)
    assert result.passed
    assert result.dropped_rows == {"train": 3, "test": 1}
    assert result.warnings[:2] == [
        "train data: 3 row(s) whose target 'label' is missing left out (data.drop_missing_target)",
        "test data: 1 row(s) whose target 'label' is missing left out (data.drop_missing_target)",
    ]
    assert result.evaluation is not None
    assert result.evaluation.rows == 39
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "- train data: 3 row(s) whose target 'label' is missing left out" in summary
