"""The config models on their own: defaults, the rules each field keeps, path resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlgate.config import (
    DataConfig,
    EvaluationConfig,
    GatesConfig,
    ModelConfig,
    PipelineConfig,
    SplitConfig,
)


def pipeline(**overrides: Any) -> PipelineConfig:
    fields: dict[str, Any] = {
        "name": "m",
        "data": {"train": "train.csv", "target": "y"},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
    }
    return PipelineConfig.model_validate(fields | overrides)


def only_error(caught: pytest.ExceptionInfo[ValidationError]) -> tuple[tuple[Any, ...], str]:
    (error,) = caught.value.errors()
    return tuple(error["loc"]), error["msg"]


def test_split_defaults_hold_out_a_fifth_stratified_with_seed_42() -> None:
    split = SplitConfig()

    assert (split.test_size, split.seed, split.stratify) == (0.2, 42, True)


@pytest.mark.parametrize("size", [0.0, 1.0, -0.1, 1.5])
def test_a_test_share_must_lie_strictly_between_0_and_1(size: float) -> None:
    with pytest.raises(ValidationError):
        SplitConfig(test_size=size)


def test_holdout_is_the_split_given_or_the_default() -> None:
    given = DataConfig(train="a.csv", target="y", split=SplitConfig(test_size=0.3))
    default = DataConfig(train="a.csv", target="y")

    assert given.holdout.test_size == 0.3
    assert default.holdout == SplitConfig()


def test_a_test_file_and_a_split_exclude_each_other() -> None:
    with pytest.raises(ValidationError) as caught:
        DataConfig(train="a.csv", test="b.csv", split=SplitConfig(), target="y")

    assert only_error(caught) == (
        (),
        "Value error, give either `test` (a file) or `split` (a hold-out), not both",
    )


@pytest.mark.parametrize("folds", [0, 2, 10])
def test_cv_folds_is_0_or_at_least_2(folds: int) -> None:
    assert ModelConfig(estimator="a.B", cv_folds=folds).cv_folds == folds


@pytest.mark.parametrize("folds", [1, -1])
def test_one_or_negative_folds_are_refused(folds: int) -> None:
    with pytest.raises(ValidationError):
        ModelConfig(estimator="a.B", cv_folds=folds)


@pytest.mark.parametrize(
    "path", ["sklearn.ensemble.RandomForestClassifier", "xgboost.XGBClassifier", "a.B"]
)
def test_an_estimator_is_a_dotted_import_path(path: str) -> None:
    assert ModelConfig(estimator=path).estimator == path


@pytest.mark.parametrize(
    "path", ["RandomForestClassifier", "sklearn.", ".Forest", "sklearn..Forest", "a.b-c.D", ""]
)
def test_a_bare_or_malformed_estimator_path_is_refused(path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ModelConfig(estimator=path)

    assert only_error(caught) == (
        ("estimator",),
        "Value error, must be an import path such as sklearn.linear_model.LogisticRegression",
    )


@pytest.mark.parametrize("name", ["credit-risk", "m", "Model_2.1", "0day", "a" * 100])
def test_model_names_accept_letters_digits_dots_dashes_underscores(name: str) -> None:
    assert pipeline(name=name).name == name


@pytest.mark.parametrize("name", ["", "-lead", ".hidden", "has space", "slash/name", "a" * 101])
def test_other_model_names_are_refused_with_the_rule_in_words(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        pipeline(name=name)

    assert only_error(caught) == (
        ("name",),
        "Value error, must be 1 to 100 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit",
    )


def test_preprocessing_is_auto_or_none() -> None:
    assert ModelConfig(estimator="a.B", preprocessing="none").preprocessing == "none"
    with pytest.raises(ValidationError):
        ModelConfig.model_validate({"estimator": "a.B", "preprocessing": "scale"})


def test_task_is_auto_classification_or_regression() -> None:
    assert pipeline(task="regression").task == "regression"
    with pytest.raises(ValidationError):
        pipeline(task="ranking")


def test_the_schema_key_is_schema_in_yaml_and_schema_file_in_python() -> None:
    config = pipeline(schema="schema.yaml")

    assert config.schema_file == "schema.yaml"
    assert config.model_dump(by_alias=True)["schema"] == "schema.yaml"


def test_configs_are_frozen() -> None:
    config = pipeline()

    with pytest.raises(ValidationError):
        config.name = "other"  # type: ignore[misc]


def test_unknown_keys_are_refused_at_every_level() -> None:
    for model, fields in [
        (SplitConfig, {"size": 0.2}),
        (DataConfig, {"train": "a", "target": "y", "label": "y"}),
        (ModelConfig, {"estimator": "a.B", "param": {}}),
        (EvaluationConfig, {"slice": ["x"]}),
        (GatesConfig, {"minimum": {}}),
    ]:
        with pytest.raises(ValidationError) as caught:
            model.model_validate(fields)
        assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_gates_hold_metric_floors_and_ceilings_as_numbers() -> None:
    gates = GatesConfig.model_validate({"min": {"accuracy": "0.8"}, "max": {"rmse": 12}})

    assert gates.min == {"accuracy": 0.8}
    assert gates.max == {"rmse": 12.0}


def test_resolve_joins_relative_paths_to_the_config_folder(tmp_path: Path) -> None:
    config = pipeline()
    config._source = tmp_path / "mlgate.yaml"

    assert config.source == tmp_path / "mlgate.yaml"
    assert config.base_dir == tmp_path
    assert config.resolve("data/train.csv") == str(tmp_path / "data" / "train.csv")
    assert config.resolve("/abs/train.csv") == "/abs/train.csv"
    assert config.resolve("gs://bucket/train.parquet") == "gs://bucket/train.parquet"


def test_resolve_without_a_source_uses_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = pipeline()

    assert config.source is None
    assert config.resolve("train.csv") == str(tmp_path / "train.csv")


def test_resolve_expands_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    assert pipeline().resolve("~/train.csv") == str(tmp_path / "train.csv")
