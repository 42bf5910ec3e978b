"""Versions registered before mlgate wrote an MLmodel: they load in mlgate as ever, and
`add_mlmodel` gives them one through which MLflow loads them with mlgate's checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catalog_support import register

from mlgate.errors import ArtifactError, RegistryError
from mlgate.registry.catalog import Catalog
from mlgate.registry.mlmodel import ADDED_TAG, add_mlmodel
from mlgate.registry.pyfunc import MLMODEL
from mlgate.registry.refs import load_ref
from mlgate.serving.runtime import ServedModel

ROWS = pd.DataFrame({"x1": [-1.5, -0.2, 0.3, 2.0], "colour": ["red", "blue", None, "blue"]})


@pytest.fixture
def old(catalog: Catalog, bundle: Path) -> Iterator[Catalog]:
    """Version 1 registered as mlgate registered them before the MLmodel: no MLmodel,
    no test set; MLflow pointed at the registry (reset after)."""
    import mlflow

    assert not (bundle / MLMODEL).exists()
    register(catalog, bundle)
    mlflow.set_tracking_uri(catalog.uri)
    mlflow.set_registry_uri(catalog.uri)
    yield catalog
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]


def gateway_answers(catalog: Catalog) -> tuple[list[object], np.ndarray]:
    served = ServedModel.load(load_ref("models:/demo/1", catalog=catalog))
    columns = {"x1": ROWS["x1"].to_numpy(), "colour": ROWS["colour"].fillna("(missing)")}
    answer = served.predict(
        {k: np.asarray(v, dtype=object if k == "colour" else float) for k, v in columns.items()}
    )
    assert answer.probabilities is not None
    return answer.labels, answer.probabilities


def test_an_old_version_loads_in_mlgate_and_mlflow_says_what_it_lacks(old: Catalog) -> None:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    labels, _ = gateway_answers(old)
    assert set(labels) <= {"yes", "no"}
    assert MLMODEL not in old.version_files(old.version("demo", "1"))
    with pytest.raises(MlflowException, match=r'Could not find an "MLmodel" configuration file'):
        mlflow.pyfunc.load_model("models:/demo/1")


def test_add_mlmodel_makes_mlflow_load_it_as_the_gateway_serves_it(old: Catalog) -> None:
    import mlflow.pyfunc

    info = old.version("demo", "1")
    added = add_mlmodel(old, "demo", "1")
    assert (added.name, added.version, added.replaced) == ("demo", "1", False)
    assert MLMODEL in added.files
    assert "requirements.txt" in added.files
    assert set(added.files) <= set(old.version_files(info))
    got = mlflow.pyfunc.load_model("models:/demo/1").predict(ROWS)
    labels, probabilities = gateway_answers(old)
    assert got["label"].tolist() == labels
    assert got["probabilities"].tolist() == probabilities.tolist()
    after = old.version("demo", "1")
    # The registry's digests still hold: mlgate loads the version as before.
    assert (after.sha256, after.card_sha256) == (info.sha256, info.card_sha256)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by tester", after.tags[ADDED_TAG])
    load_ref("models:/demo/1", catalog=old)


def test_an_mlmodel_there_is_refused_unless_forced(old: Catalog) -> None:
    first = add_mlmodel(old, "demo", "1")
    info = old.version("demo", "1")
    stamp = info.tags[ADDED_TAG]
    with pytest.raises(
        RegistryError,
        match=rf"^demo version 1 already has an MLmodel \({re.escape(info.source)}/MLmodel\), "
        r"so MLflow loads it as it is\. Pass --force to write it again",
    ):
        add_mlmodel(old, "demo", "1")
    assert old.version("demo", "1").tags[ADDED_TAG] == stamp
    again = add_mlmodel(old, "demo", "1", force=True)
    assert (again.files, again.replaced) == (first.files, True)


def test_a_tampered_version_gets_no_mlmodel(old: Catalog) -> None:
    info = old.version("demo", "1")
    model = old.local_path(info) / "model.skops"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match=r"the model file's sha256 does not match"):
        add_mlmodel(old, "demo", "1")
    assert MLMODEL not in old.version_files(info)
    assert ADDED_TAG not in old.version("demo", "1").tags


def test_an_unknown_version_is_named(old: Catalog) -> None:
    with pytest.raises(RegistryError, match=r"^model 'demo' has no version '7'\. Versions: 1\.$"):
        add_mlmodel(old, "demo", "7")
