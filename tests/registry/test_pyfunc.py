"""A registered version as MLflow sees it: MLmodel, signature, example, verified loading."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlgate.config.loader import load_config
from mlgate.errors import ArtifactError
from mlgate.project import Project
from mlgate.registry.predictor import Prediction
from mlgate.registry.pyfunc import MLMODEL
from mlgate.registry.refs import load_ref
from mlgate.results import RunResult
from mlgate.road.run import run
from mlgate.serving.runtime import ServedModel
from mlgate.training.preprocessing import prepare_features

FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10},
    "cv_folds": 0,
}
RIDGE = {"estimator": "sklearn.linear_model.Ridge", "cv_folds": 0}


@pytest.fixture
def mlflow_uri() -> Iterator[Callable[[RunResult], str]]:
    """`mlflow_uri(result)`: MLflow pointed at the run's project registry, reset after."""
    import mlflow

    def point(result: RunResult) -> str:
        uri = Project(Path(result.output_dir).parents[3]).catalog.uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return uri

    yield point
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


@pytest.fixture
def registered(
    tmp_path: Path, new_project: Callable[..., Path], registry_for: Callable[[Path], Path]
) -> Callable[..., RunResult]:
    """`registered(frame, model, target)`: `mlgate run` of a project, registering version 1."""
    registry_for(tmp_path / "project")

    def go(frame: pd.DataFrame, model: dict[str, object], target: str) -> RunResult:
        cut = len(frame) * 2 // 3
        config = new_project(frame.iloc[:cut], test=frame.iloc[cut:], model=model, target=target)
        result = run(load_config(config), apply_gates=False, register=True)
        assert result.registration is not None
        assert result.registration.version == "1"
        return result

    return go


def as_signed(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with numbers as doubles: MLflow refuses to convert int64 columns itself."""
    numbers = rows.select_dtypes("number").columns
    return rows.astype(dict.fromkeys(numbers, "float64"))


def gateway_answers(result: RunResult, rows: pd.DataFrame) -> Prediction:
    """What the gateway's own predictor (ONNX Runtime where there is an export) answers."""
    catalog = Project(Path(result.output_dir).parents[3]).catalog
    served = ServedModel.load(load_ref("models:/demo/1", catalog=catalog))
    features = prepare_features(rows, served.card.kinds)
    return served.predict({name: features[name].to_numpy() for name in served.features})


def test_a_classifier_loads_in_mlflow_and_predicts_as_mlgate_does(
    registered: Callable[..., RunResult],
    binary_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.pyfunc

    result = registered(binary_frame, FOREST, "label")
    mlflow_uri(result)
    model = mlflow.pyfunc.load_model("models:/demo/1")
    rows = as_signed(binary_frame.drop(columns="label").iloc[160:])
    got = model.predict(rows)
    assert list(got.columns) == ["label", "probabilities"]
    expected = gateway_answers(result, rows)
    assert got["label"].tolist() == expected.labels
    assert set(expected.labels) == {"yes", "no"}
    assert expected.probabilities is not None
    assert got["probabilities"].tolist() == expected.probabilities.tolist()
    assert got.index.equals(rows.index)


def test_a_regressor_loads_in_mlflow_and_predicts_as_mlgate_does(
    registered: Callable[..., RunResult],
    diabetes_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.pyfunc

    result = registered(diabetes_frame, RIDGE, "progression")
    mlflow_uri(result)
    model = mlflow.pyfunc.load_model("models:/demo/1")
    rows = as_signed(diabetes_frame.drop(columns="progression").iloc[300:])
    got = model.predict(rows)
    assert list(got.columns) == ["prediction"]
    assert got["prediction"].dtype == np.float64
    assert got["prediction"].tolist() == gateway_answers(result, rows).labels


def test_the_mlmodel_has_the_signature_example_and_requirements(
    registered: Callable[..., RunResult],
    binary_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.models

    result = registered(binary_frame, FOREST, "label")
    mlflow_uri(result)
    info = mlflow.models.get_model_info("models:/demo/1")
    assert info.flavors["python_function"]["loader_module"] == "mlgate.registry.pyfunc"
    assert info.signature is not None
    assert info.signature.inputs.to_dict() == [
        {"type": "double", "name": "x1", "required": True},
        {"type": "double", "name": "x2", "required": True},
        {"type": "double", "name": "count", "required": True},
        {"type": "string", "name": "colour", "required": True},
    ]
    assert info.signature.outputs.to_dict() == [
        {"type": "string", "name": "label", "required": True},
        {"type": "array", "items": {"type": "double"}, "name": "probabilities", "required": True},
    ]
    assert info.metadata["mlgate"]["task"] == "classification"
    assert info.metadata["mlgate"]["classes"] == ["no", "yes"]
    folder = Path(result.output_dir)
    example = json.loads((folder / "input_example.json").read_text(encoding="utf-8"))
    assert example["columns"] == ["x1", "x2", "count", "colour"]
    test = pd.read_parquet(folder / "test.parquet")
    first = test.iloc[0]
    assert example["data"][0] == [first.x1, first.x2, float(first["count"]), first.colour]
    requirements = (folder / "requirements.txt").read_text(encoding="utf-8").split()
    for name, version in result.lineage.packages.items():
        if name != "python":
            assert f"{name}=={version}" in requirements
    # The forest is served by ONNX Runtime, and so is it in MLflow.
    assert f"onnxruntime=={metadata.version('onnxruntime')}" in requirements
    assert not any(line.startswith("python") for line in requirements)


def test_a_regressor_signature_answers_a_double(
    registered: Callable[..., RunResult],
    diabetes_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.models

    result = registered(diabetes_frame, RIDGE, "progression")
    mlflow_uri(result)
    signature = mlflow.models.get_model_info("models:/demo/1").signature
    assert signature is not None
    assert signature.outputs.to_dict() == [
        {"type": "double", "name": "prediction", "required": True}
    ]


def registered_folder(result: RunResult) -> Path:
    """Where the registry's store keeps version 1's files."""
    catalog = Project(Path(result.output_dir).parents[3]).catalog
    return catalog.local_path(catalog.version("demo", "1"))


def test_a_changed_model_file_is_refused_by_the_mlflow_loader(
    registered: Callable[..., RunResult],
    binary_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.pyfunc

    result = registered(binary_frame, FOREST, "label")
    mlflow_uri(result)
    model = registered_folder(result) / "model.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"the model file's sha256 does not match"):
        mlflow.pyfunc.load_model("models:/demo/1")


def test_a_rewritten_card_is_refused_by_the_mlflow_loader(
    registered: Callable[..., RunResult],
    binary_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.pyfunc

    result = registered(binary_frame, FOREST, "label")
    mlflow_uri(result)
    card = registered_folder(result) / "model.json"
    card.write_text(card.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"model\.json differs from the one this MLmodel"):
        mlflow.pyfunc.load_model("models:/demo/1")


def test_a_bundle_without_mlmodel_digests_is_not_loaded(tmp_path: Path) -> None:
    from mlgate.registry import pyfunc

    (tmp_path / MLMODEL).write_text(yaml.safe_dump({"flavors": {}}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"records no mlgate digests"):
        pyfunc._load_pyfunc(str(tmp_path))


def test_integer_classes_are_long_labels_in_and_out(
    registered: Callable[..., RunResult],
    multiclass_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.models
    import mlflow.pyfunc

    result = registered(multiclass_frame, FOREST, "label")
    mlflow_uri(result)
    signature = mlflow.models.get_model_info("models:/demo/1").signature
    assert signature is not None
    assert signature.outputs.to_dict()[0] == {"type": "long", "name": "label", "required": True}
    rows = multiclass_frame.drop(columns="label").iloc[200:]
    got = mlflow.pyfunc.load_model("models:/demo/1").predict(rows)
    assert got["label"].tolist() == gateway_answers(result, rows).labels
    assert set(got["label"].tolist()) == {0, 1, 2}
    assert got["label"].dtype == np.int64


def test_a_second_run_into_the_same_folder_registers_its_own_mlmodel(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.pyfunc

    registry_for(tmp_path / "project")
    config = load_config(new_project(binary_frame.iloc[:160], test=binary_frame.iloc[160:]))
    out = tmp_path / "project" / ".mlgate" / "runs" / "demo" / "same"
    run(config, output=out, apply_gates=False, register=True)
    result = run(config, output=out, apply_gates=False, register=True)
    assert result.registration is not None
    assert result.registration.version == "2"
    mlflow_uri(result)
    rows = binary_frame.drop(columns="label").iloc[160:].astype({"count": "float64"})
    assert len(mlflow.pyfunc.load_model("models:/demo/2").predict(rows)) == len(rows)


def test_an_mlmodel_mlflow_cannot_write_registers_nothing(
    tmp_path: Path,
    binary_frame: pd.DataFrame,
    new_project: Callable[..., Path],
    registry_for: Callable[[Path], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlgate.registry import pyfunc

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    pyfunc._import_pyfunc()
    monkeypatch.setattr("mlflow.pyfunc.save_model", refuse)
    registry_for(tmp_path / "project")
    config = load_config(new_project(binary_frame.iloc[:160], test=binary_frame.iloc[160:]))
    with pytest.raises(
        ArtifactError, match=r"MLflow could not write the MLmodel file \(disk full\)"
    ):
        run(config, apply_gates=False, register=True)
    assert not Project(tmp_path / "project").catalog.has_model("demo")


def test_an_xgboost_version_requires_the_xgboost_that_trained_it(
    registered: Callable[..., RunResult],
    multiclass_frame: pd.DataFrame,
    mlflow_uri: Callable[[RunResult], str],
) -> None:
    import mlflow.pyfunc

    pytest.importorskip("xgboost")
    model = {"estimator": "xgboost.XGBClassifier", "params": {"n_estimators": 10}, "cv_folds": 0}
    result = registered(multiclass_frame, model, "label")
    (xgboost,) = metadata.packages_distributions()["xgboost"]
    requirements = (Path(result.output_dir) / "requirements.txt").read_text(encoding="utf-8")
    assert f"{xgboost}=={metadata.version(xgboost)}" in requirements.split()
    mlflow_uri(result)
    rows = multiclass_frame.drop(columns="label").iloc[200:]
    got = mlflow.pyfunc.load_model("models:/demo/1").predict(rows)
    assert got["label"].tolist() == gateway_answers(result, rows).labels


def test_a_pipeline_step_s_library_is_a_requirement() -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures
    from xgboost import XGBRegressor

    from mlgate.registry.requirements import model_requirements

    (xgboost,) = metadata.packages_distributions()["xgboost"]
    pipeline = make_pipeline(PolynomialFeatures(), XGBRegressor())
    got = model_requirements({"scikit-learn": "1.0", "python": "3.11.0"}, pipeline)
    assert got == sorted(
        [
            "scikit-learn==1.0",  # as the lineage recorded it, not as installed
            f"{xgboost}=={metadata.version(xgboost)}",
            f"mlgate=={metadata.version('mlgate')}",
        ]
    )
