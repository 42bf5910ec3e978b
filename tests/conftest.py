"""Shared fixtures: example projects, small frames and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mlgate.scaffold.example import write_example

# The suite registers into local SQLite registries on purpose; on a CI runner (CI=true)
# mlgate refuses that (tests/road/test_ci_registry.py sets CI where it is the point).
os.environ.pop("CI", None)


@pytest.fixture
def runner() -> CliRunner:
    """Runs `mlgate` commands in-process, the way typer's docs test CLIs."""
    return CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the example project; returns the path of its mlgate.yaml."""
    return write_example(tmp_path / "project", rows=600)


def write_config(folder: Path, text: str) -> Path:
    """Write an mlgate.yaml into `folder` and return its path."""
    path = folder / "mlgate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the road: small datasets and projects for training, evaluation and gate tests ---


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    """240 rows: two numbers, a count, a colour, and a 'yes'/'no' label the numbers decide."""
    rng = np.random.default_rng(0)
    rows = 240
    frame = pd.DataFrame(
        {
            "x1": rng.normal(0, 1, rows).round(4),
            "x2": rng.normal(5, 2, rows).round(4),
            "count": rng.integers(0, 10, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
        }
    )
    signal = frame["x1"] + 0.5 * (frame["x2"] - 5) + 0.8 * (frame["colour"] == "red")
    frame["label"] = np.where(signal + rng.normal(0, 0.5, rows) > 0.3, "yes", "no")
    return frame


@pytest.fixture
def multiclass_frame() -> pd.DataFrame:
    """300 rows of two numbers and an integer class 0, 1 or 2 that they decide."""
    rng = np.random.default_rng(1)
    rows = 300
    x1, x2 = rng.normal(0, 1, rows).round(4), rng.normal(0, 1, rows).round(4)
    label = np.digitize(x1 + 0.5 * x2 + rng.normal(0, 0.3, rows), [-0.5, 0.5])
    return pd.DataFrame({"x1": x1, "x2": x2, "label": label})


@pytest.fixture
def diabetes_frame() -> pd.DataFrame:
    """scikit-learn's bundled diabetes data (442 rows, 10 features, target 'progression')."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    frame: pd.DataFrame = bunch.frame.rename(columns={"target": "progression"})
    return frame


FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10},
    "cv_folds": 0,
}


def make_project(
    folder: Path,
    train: pd.DataFrame,
    *,
    test: pd.DataFrame | None = None,
    target: str = "label",
    model: dict[str, Any] | None = None,
    **sections: Any,
) -> Path:
    """Write train.csv (and test.csv) and an mlgate.yaml using them into `folder`.

    `sections` are further top-level config keys (gates, task, schema, ...); a
    `data` mapping among them is merged into the data section.
    """
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    data: dict[str, Any] = {"train": "train.csv", "target": target}
    if test is not None:
        test.to_csv(folder / "test.csv", index=False)
        data["test"] = "test.csv"
    data |= sections.pop("data", {})
    config = {"name": "demo", "data": data, "model": model or FOREST} | sections
    return write_config(folder, yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def new_project(tmp_path: Path) -> Callable[..., Path]:
    """`make_project` into tmp_path/project (or `folder=`): new_project(frame, gates={...})."""

    def build(train: pd.DataFrame, *, folder: Path | None = None, **options: Any) -> Path:
        return make_project(folder or tmp_path / "project", train, **options)

    return build


# --- the registry: an embedded MLflow registry per project, without the cost of making one ---

#: Variables that would point mlgate at a registry, state store or actor outside the test.
REGISTRY_ENV = ("MLGATE_REGISTRY_URI", "MLFLOW_TRACKING_URI", "MLGATE_STATE_URL", "MLGATE_ACTOR")


def copy_registry(template: Path, folder: Path) -> Path:
    """Give the project in `folder` an empty embedded registry copied from `template`."""
    import shutil

    home = folder / ".mlgate"
    home.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(template, home / "mlflow.db"))


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database, created and migrated once per session.

    Creating one takes MLflow 1.5 s or more; a copy opens in about 60 ms. Copy it
    (`copy_registry`), never write to it.
    """
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def registry_for(mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Path]:
    """`registry_for(folder)`: an empty embedded registry for the project in `folder`.

    Registry, state and actor variables of the environment are cleared for the test.
    """
    for name in REGISTRY_ENV:
        monkeypatch.delenv(name, raising=False)
    return lambda folder: copy_registry(mlflow_template, folder)


@pytest.fixture
def chatty(monkeypatch: pytest.MonkeyPatch) -> str:
    """The import path of a team's own estimator that takes **kwargs and prints as it
    fits and predicts (as XGBoost and LightGBM do)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "models"))
    return "chatty_models.Chatty"


# --- Spark: one local session for the whole test session, which is slow to start ---


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark of two cores, small and quiet (Java 17 is on these machines);
    skipped where pyspark is not installed (`pip install 'mlgate[spark]'`)."""
    import sys

    pyspark = pytest.importorskip("pyspark.sql")
    # Spark's Python workers are this interpreter, with its packages.
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        pyspark.SparkSession.builder.master("local[2]")
        .appName("mlgate-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def mlgate_env() -> dict[str, str]:
    """The environment of a child process that imports the mlgate under test, wherever
    this process imports it from (the source tree first on PYTHONPATH)."""
    import mlgate

    source = str(Path(mlgate.__file__).parents[1])
    return os.environ | {"PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def spark_env(mlgate_env: dict[str, str]) -> dict[str, str]:
    """`mlgate_env` for a child process that starts its own local Spark: bound to the
    loopback, with no master or Spark configuration taken from outside."""
    env = mlgate_env | {"SPARK_LOCAL_IP": "127.0.0.1"}
    for name in ("PYSPARK_SUBMIT_ARGS", "SPARK_CONF_DIR", "MASTER"):
        env.pop(name, None)
    return env


# --- a small filesystem that fills up: disk-full behaviour on a real disk ---


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """`small_disk(bytes)`: a folder on a tmpfs of that size, unmounted at the end.

    Skipped where mounting is not permitted (not root, or a container without
    CAP_SYS_ADMIN): a full disk is only tested on a real one.
    """
    import subprocess

    mounted: list[Path] = []

    def mount(size: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.stdout}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file into `folder` until its disk is full; the file (remove it to free)."""
    import os

    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (64 * 1024, 4096, 512, 64, 1):  # then whatever a smaller write still takes
            while True:
                try:
                    if os.write(fd, bytes(size)) < size:
                        break
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def fill_disk() -> Callable[[Path], Path]:
    """`fill_disk(folder)`: fill the disk `folder` is on; returns the file that fills it."""
    return _fill
