"""Reading mlgate.yaml from real files: what loads, and the one clear error for what does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlgate.config import PipelineConfig, config_hash, interpolate_env, load_config
from mlgate.errors import ConfigError, MlgateError
from mlgate.scaffold.example import EXAMPLE_CONFIG

MINIMAL = """\
name: churn
data: {train: data/train.csv, target: label}
model: {estimator: sklearn.linear_model.LogisticRegression}
"""

# Every key mlgate.yaml allows at its top level, as the error lists them.
CONFIG_KEYS = ", ".join(sorted(f.alias or n for n, f in PipelineConfig.model_fields.items()))
DATA_KEYS = "drop, drop_missing_target, engine, features, spark, split, target, test, train"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A project folder with data/train.csv, data/test.csv and schema.yaml."""
    (tmp_path / "data").mkdir()
    for name in ("train.csv", "test.csv"):
        (tmp_path / "data" / name).write_text("x,label\n1,0\n2,1\n", encoding="utf-8")
    (tmp_path / "schema.yaml").write_text("x: {dtype: int}\n", encoding="utf-8")
    return tmp_path


def write(folder: Path, text: str, name: str = "mlgate.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(path: Path, message: str) -> str:
    """The exact pattern of an error about `path`: `<path>: <message>`."""
    return rf"^{re.escape(str(path))}: {message}$"


# --- what loads ------------------------------------------------------------------------


def test_minimal_config_loads_with_every_default(folder: Path) -> None:
    config = load_config(write(folder, MINIMAL))

    assert config.name == "churn"
    assert config.task == "auto"
    assert config.seed == 42
    assert config.data.train == "data/train.csv"
    assert config.data.target == "label"
    assert config.data.test is None
    assert config.data.split is None
    assert config.data.holdout.test_size == 0.2
    assert config.data.features is None
    assert config.data.drop == []
    assert config.schema_file is None
    assert config.model.estimator == "sklearn.linear_model.LogisticRegression"
    assert config.model.params == {}
    assert config.model.preprocessing == "auto"
    assert config.model.cv_folds == 5
    assert config.evaluation.slices == []
    assert config.gates.min == {}
    assert config.gates.max == {}


def test_the_example_projects_config_loads(folder: Path) -> None:
    config = load_config(write(folder, EXAMPLE_CONFIG))

    assert config.name == "credit-risk"
    assert config.schema_file == "schema.yaml"
    assert config.model.params == {"n_estimators": 100, "max_depth": 8}
    assert config.evaluation.slices == ["employment"]
    assert config.gates.min == {"accuracy": 0.80, "f1": 0.78, "roc_auc": 0.85}


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(folder, MINIMAL + "schema: schema.yaml\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))

    config = load_config(path)

    assert config.source == path.resolve()
    assert config.base_dir == folder.resolve()
    assert config.resolve(config.data.train) == str(folder.resolve() / "data" / "train.csv")
    assert config.resolve("schema.yaml") == str(folder.resolve() / "schema.yaml")


def test_a_relative_config_path_is_read_from_the_cwd(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(folder, MINIMAL)
    monkeypatch.chdir(folder)

    config = load_config("mlgate.yaml")

    assert config.source == folder.resolve() / "mlgate.yaml"


def test_absolute_paths_and_urls_are_kept_as_written(folder: Path) -> None:
    train = folder / "data" / "train.csv"
    text = f"name: m\ndata: {{train: '{train}', test: 's3://bucket/test.csv', target: label}}\n"
    config = load_config(write(folder, text + "model: {estimator: a.B}\n"))

    assert config.resolve(config.data.train) == str(train)
    assert config.data.test is not None
    assert config.resolve(config.data.test) == "s3://bucket/test.csv"


def test_numbers_where_text_is_expected_are_read_as_text(folder: Path) -> None:
    (folder / "data" / "2024.csv").write_text("1,2\n3,4\n", encoding="utf-8")
    text = "name: 2024\ndata: {train: data/2024.csv, target: 1}\nmodel: {estimator: a.B}\n"

    config = load_config(write(folder, text))

    assert config.name == "2024"
    assert config.data.target == "1"


# --- ${ENV} interpolation ---------------------------------------------------------------


def test_environment_variables_fill_values_anywhere_in_the_tree(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_TEST_NAME", "from-env")
    monkeypatch.setenv("MLGATE_TEST_DIR", "data")
    monkeypatch.setenv("MLGATE_TEST_COLUMN", "x")
    text = (
        "name: ${MLGATE_TEST_NAME}\n"
        "data:\n"
        "  train: ${MLGATE_TEST_DIR}/train.csv\n"
        "  target: label\n"
        "  features: [a, '${MLGATE_TEST_COLUMN}']\n"
        "model: {estimator: a.B, params: {path: '/x/${MLGATE_TEST_DIR}/y'}}\n"
    )
    config = load_config(write(folder, text))

    assert config.name == "from-env"
    assert config.data.train == "data/train.csv"
    assert config.data.features == ["a", "x"]
    assert config.model.params == {"path": "/x/data/y"}


def test_a_default_is_used_when_the_variable_is_unset_or_empty(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLGATE_TEST_UNSET", raising=False)
    monkeypatch.setenv("MLGATE_TEST_EMPTY", "")
    monkeypatch.setenv("MLGATE_TEST_SET", "given")
    text = (
        "name: ${MLGATE_TEST_UNSET:-fallback}\n"
        "data: {train: '${MLGATE_TEST_EMPTY:-data}/train.csv', target: label}\n"
        "model:\n"
        "  estimator: a.B\n"
        "  params: {v: '${MLGATE_TEST_SET:-unused}', e: '${MLGATE_TEST_EMPTY:-}'}\n"
    )
    config = load_config(write(folder, text))

    assert config.name == "fallback"
    assert config.data.train == "data/train.csv"
    assert config.model.params == {"v": "given", "e": ""}


def test_an_unset_variable_names_itself_its_field_and_the_fix(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLGATE_TEST_UNSET", raising=False)
    path = write(folder, MINIMAL.replace("data/train.csv", "'${MLGATE_TEST_UNSET}/train.csv'"))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: data.train: environment variable MLGATE_TEST_UNSET is not set. "
        "Export MLGATE_TEST_UNSET, or write ${MLGATE_TEST_UNSET:-default} to give a default."
    )
    assert caught.value.file == str(path)
    assert caught.value.field == "data.train"


def test_an_unset_variable_in_a_list_names_the_item(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLGATE_TEST_UNSET", raising=False)
    text = MINIMAL.replace("target: label}", "target: label, drop: [a, '${MLGATE_TEST_UNSET}']}")
    path = write(folder, text)

    with pytest.raises(ConfigError, match=error_for(path, r"data\.drop\[1\]: environment .*")):
        load_config(path)


def test_a_value_from_the_environment_is_never_shown_in_an_error(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_TEST_SECRET", "hunter2 is not a name")
    path = write(folder, MINIMAL.replace("name: churn", "name: ${MLGATE_TEST_SECRET}"))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert "hunter2" not in str(caught.value)
    assert str(caught.value) == (
        f"{path}: name: must be 1 to 100 letters, digits, '.', '_' or '-', starting with a "
        "letter or digit (got '${MLGATE_TEST_SECRET}' with its ${...} filled in)"
    )


def test_interpolate_env_leaves_non_strings_and_plain_text_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLGATE_TEST_SET", "v")
    value = {"a": 1, "b": [True, None, 2.5, "$HOME", "${MLGATE_TEST_SET}"], "c": "$ {x}"}

    assert interpolate_env(value) == {"a": 1, "b": [True, None, 2.5, "$HOME", "v"], "c": "$ {x}"}


# --- one clear ConfigError per bad config ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            MINIMAL + "schedule: daily\n",
            f"schedule: unknown key \\(allowed: {CONFIG_KEYS}\\)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            MINIMAL.replace("target: label", "target: label, tset: t.csv"),
            f"data\\.tset: unknown key \\(did you mean 'test'\\? allowed: {DATA_KEYS}\\)",
            id="unknown-nested-key",
        ),
        pytest.param(
            MINIMAL.replace("target: label", "target: label, split: {size: 0.3}"),
            r"data\.split\.size: unknown key \(did you mean 'test_size'\? "
            r"allowed: seed, stratify, test_size\)",
            id="unknown-key-two-levels-down",
        ),
        pytest.param(
            MINIMAL.replace("LogisticRegression}", "LogisticRegression, param: {C: 1}}"),
            r"model\.param: unknown key \(did you mean 'params'\? "
            r"allowed: code, cv_folds, estimator, params, pipeline, preprocessing\)",
            id="unknown-model-key",
        ),
        pytest.param(
            MINIMAL.replace("LogisticRegression}", "LogisticRegression, cv_folds: five}"),
            r"model\.cv_folds: must be a whole number \(got 'five'\)",
            id="text-for-a-number",
        ),
        pytest.param(
            MINIMAL.replace("LogisticRegression}", "LogisticRegression, cv_folds: 2.5}"),
            r"model\.cv_folds: must be a whole number \(got 2\.5\)",
            id="fraction-for-a-whole-number",
        ),
        pytest.param(
            MINIMAL.replace("LogisticRegression}", "LogisticRegression, cv_folds: 1}"),
            r"model\.cv_folds: must be 0 \(no cross-validation\) or at least 2 \(got 1\)",
            id="one-fold",
        ),
        pytest.param(
            MINIMAL + "gates: {min: {accuracy: high}}\n",
            r"gates\.min\.accuracy: must be a number \(got 'high'\)",
            id="text-for-a-metric-floor",
        ),
        pytest.param(
            MINIMAL.replace("target: label", "target: label, split: {test_size: 1.5}"),
            r"data\.split\.test_size: must be less than 1 \(got 1\.5\)",
            id="share-out-of-range",
        ),
        pytest.param(
            MINIMAL.replace("target: label", "target: label, features: x"),
            r"data\.features: must be a list, e\.g\. \[a, b\] \(got 'x'\)",
            id="text-for-a-list",
        ),
        pytest.param(
            MINIMAL.replace("LogisticRegression}", "LogisticRegression, params: [1, 2]}"),
            r"model\.params: must be a mapping of keys to values \(got \[1, 2\]\)",
            id="list-for-a-mapping",
        ),
        pytest.param(
            "name: m\ndata: [train.csv]\nmodel: {estimator: a.B}\n",
            r"data: must be a mapping of keys to values \(got \['train\.csv'\]\)",
            id="list-for-a-section",
        ),
        pytest.param(
            "name: m\ndata:\nmodel: {estimator: a.B}\n",
            r"data: must be a mapping of keys to values \(got None\)",
            id="empty-section",
        ),
        pytest.param(
            MINIMAL + "task: classify\n",
            r"task: must be one of 'auto', 'classification' or 'regression' \(got 'classify'\)",
            id="value-not-in-a-choice",
        ),
        pytest.param(
            MINIMAL.replace("name: churn", "name: my model!"),
            r"name: must be 1 to 100 letters, digits, '\.', '_' or '-', starting with a "
            r"letter or digit \(got 'my model!'\)",
            id="bad-name",
        ),
        pytest.param(
            MINIMAL.replace("sklearn.linear_model.LogisticRegression", "LogisticRegression"),
            r"model\.estimator: must be an import path such as "
            r"sklearn\.linear_model\.LogisticRegression \(got 'LogisticRegression'\)",
            id="estimator-without-module",
        ),
        pytest.param(
            "data: {train: data/train.csv, target: label}\nmodel: {estimator: a.B}\n",
            r"name: required but missing \(Model name: letters, digits, '\.', '_' and '-'\)",
            id="missing-name",
        ),
        pytest.param(
            "name: m\nmodel: {estimator: a.B}\n",
            r"data: required but missing\.",
            id="missing-data",
        ),
        pytest.param(
            "name: m\ndata: {target: label}\nmodel: {estimator: a.B}\n",
            r"data\.train: required but missing \(CSV or Parquet file: a local path or an "
            r"fsspec URL\)",
            id="missing-train",
        ),
        pytest.param(
            "name: m\ndata: {train: data/train.csv}\nmodel: {estimator: a.B}\n",
            r"data\.target: required but missing \(Name of the column to predict\)",
            id="missing-target",
        ),
        pytest.param(
            "name: m\ndata: {train: data/train.csv, target: label}\n",
            r"model: required but missing\.",
            id="missing-model",
        ),
        pytest.param(
            "name: m\ndata: {train: data/train.csv, target: label}\nmodel: {params: {}}\n",
            r"model\.estimator: required but missing \(Import path of a scikit-learn-compatible "
            r"class, e\.g\. sklearn\.ensemble\.RandomForestClassifier \(or module:function, a "
            r"function that builds one from the params\)\)",
            id="missing-estimator",
        ),
        pytest.param(
            MINIMAL.replace("target: label", "target: label, test: data/test.csv, split: {}"),
            r"data: give either `test` \(a file\) or `split` \(a hold-out\), not both\.",
            id="test-and-split",
        ),
        pytest.param(
            MINIMAL
            + "monitor: {retrain_gate: beat_champion, retrain: {evaluate_on: configured}}\n",
            r"monitor: retrain_gate: beat_champion compares with the champion on held-out "
            r"recent labelled rows; set retrain\.evaluate_on: recent, or use retrain_gate: "
            r"floors\.",
            id="beat-champion-on-configured-rows",
        ),
        pytest.param(
            MINIMAL + "monitor: {retrain_gate: beat}\n",
            r"monitor\.retrain_gate: must be one of 'floors' or 'beat_champion' \(got 'beat'\)",
            id="unknown-retrain-gate",
        ),
    ],
)
def test_each_bad_config_gives_one_error_naming_file_field_value_and_what_is_allowed(
    folder: Path, text: str, message: str
) -> None:
    path = write(folder, text)

    with pytest.raises(ConfigError, match=error_for(path, message)):
        load_config(path)


def test_every_problem_is_listed_in_the_one_error(folder: Path) -> None:
    path = write(folder, "name: m\ndata: {train: data/train.csv, extra: 1}\nmodel: {cv_folds: x}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: 4 problems:\n"
        "  - data.target: required but missing (Name of the column to predict)\n"
        f"  - data.extra: unknown key (allowed: {DATA_KEYS})\n"
        "  - model.estimator: required but missing (Import path of a scikit-learn-compatible "
        "class, e.g. sklearn.ensemble.RandomForestClassifier (or module:function, a "
        "function that builds one from the params))\n"
        "  - model.cv_folds: must be a whole number (got 'x')"
    )


def test_a_missing_data_file_names_the_field_the_value_and_where_it_looked(
    folder: Path,
) -> None:
    path = write(folder, MINIMAL.replace("data/train.csv", "data/trian.csv"))
    looked = folder.resolve() / "data" / "trian.csv"

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: data.train: file not found. Got 'data/trian.csv'. Paths are relative to "
        f"the config's folder, {folder.resolve()}. Looked for {looked}."
    )
    assert caught.value.field == "data.train"
    assert caught.value.value == "data/trian.csv"


def test_a_folder_where_a_file_belongs_is_refused(folder: Path) -> None:
    path = write(folder, MINIMAL.replace("data/train.csv", "data"))

    with pytest.raises(
        ConfigError,
        match=error_for(
            path, r"data\.train: expected a file, found a folder\. Got 'data'\. Paths .*"
        ),
    ):
        load_config(path)


def test_every_missing_file_is_named_at_once(folder: Path) -> None:
    text = MINIMAL.replace("target: label", "target: label, test: t.csv") + "schema: s.yaml\n"
    path = write(folder, text)
    base = folder.resolve()

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: 2 problems:\n"
        f"  - data.test: file not found (got 't.csv'; looked for {base / 't.csv'})\n"
        f"  - schema: file not found (got 's.yaml'; looked for {base / 's.yaml'})\n"
        f"Paths are relative to the config's folder, {base}."
    )


def test_remote_data_is_not_checked_when_loading(folder: Path) -> None:
    path = write(folder, MINIMAL.replace("data/train.csv", "s3://bucket/train.csv"))

    assert load_config(path).data.train == "s3://bucket/train.csv"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "name: m\ndata: {train: data/train.csv, target: label\nmodel: {estimator: a.B}\n",
            r"not valid YAML at line 3, column 6: expected ',' or '}', but got ':'\. "
            r"Fix it there\.",
            id="unclosed-brace",
        ),
        pytest.param(
            "name: m\n  data: x\n",
            r"not valid YAML at line 2, column 7: mapping values are not allowed here\. "
            r"Fix it there\.",
            id="bad-indent",
        ),
        pytest.param(
            "name: m\ndata:\n\ttrain: x\n",
            r"not valid YAML at line 3, column 1: found character '\\t' that cannot start "
            r"any token\. Fix it there\.",
            id="tab",
        ),
        pytest.param(
            MINIMAL + "name: other\n",
            r"not valid YAML at line 4, column 1: the key 'name' is given twice "
            r"\(first at line 1\)\. Fix it there\.",
            id="duplicate-key",
        ),
        pytest.param(
            "",
            r"the config file is empty\. It needs at least name, data \(train, target\) and "
            r"model \(estimator\); `mlgate init` writes a complete one\.",
            id="empty",
        ),
        pytest.param(
            "# nothing but a comment\n",
            r"the config file is empty\. .*",
            id="only-comments",
        ),
        pytest.param(
            "- name: m\n- data: x\n",
            r"expected a mapping of keys \(name:, data:, model:, \.\.\.\) at the top level, "
            r"got a list\.",
            id="list-at-top",
        ),
        pytest.param(
            "just some words\n",
            r"expected a mapping of keys \(name:, data:, model:, \.\.\.\) at the top level, "
            r"got a single text value, 'just some words'\.",
            id="text-at-top",
        ),
    ],
)
def test_a_file_that_is_not_a_config_mapping_says_where_and_why(
    folder: Path, text: str, message: str
) -> None:
    path = write(folder, text)

    with pytest.raises(ConfigError, match=error_for(path, message)):
        load_config(path)


def test_a_config_that_is_not_utf8_says_so(folder: Path) -> None:
    path = folder / "mlgate.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))

    with pytest.raises(
        ConfigError,
        match=error_for(
            path,
            r"cannot read the config file: it is not UTF-8 text \(byte 9\)\. Save it as "
            r"UTF-8\.",
        ),
    ):
        load_config(path)


def test_a_missing_config_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "mlgate.yaml"

    with pytest.raises(
        ConfigError, match=error_for(path, r"config file not found\. Check the path\.")
    ):
        load_config(path)


def test_a_folder_given_as_config_says_so(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=error_for(tmp_path, r"expected a config file but found a folder\.")
    ):
        load_config(tmp_path)


def test_config_errors_belong_to_the_error_tree(folder: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(folder, ""))

    assert isinstance(caught.value, MlgateError)
    assert isinstance(caught.value, ValueError)


# --- config_hash ------------------------------------------------------------------------


def test_config_hash_ignores_key_order_and_formatting_but_not_content(folder: Path) -> None:
    first = load_config(write(folder, MINIMAL, "a.yaml"))
    reordered = (
        "model:\n  estimator: sklearn.linear_model.LogisticRegression\n"
        "data:\n  target: label\n  train: data/train.csv\n"
        "name: churn  # same model\n"
    )
    second = load_config(write(folder, reordered, "b.yaml"))
    third = load_config(write(folder, MINIMAL + "seed: 7\n", "c.yaml"))

    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(first))
    assert config_hash(first) == config_hash(second)
    assert config_hash(first) != config_hash(third)


def test_a_loaded_config_is_a_pipeline_config(folder: Path) -> None:
    assert isinstance(load_config(write(folder, MINIMAL)), PipelineConfig)
