"""Versions read from the registry's tables answer what MLflow's client answers, and
whatever the reader cannot tell is left to MLflow."""

from __future__ import annotations

import sqlite3
from typing import Any

from mlgate.registry._mlflow import version_info
from mlgate.registry._reader import TableReader
from mlgate.registry.catalog import Catalog


def _mlflow(catalog: Catalog, version: str) -> dict[str, Any]:
    client = catalog.client
    return version_info(client, client.get_model_version("demo", version)).model_dump()


def test_every_version_and_alias_reads_as_mlflow_reads_it(three: Catalog) -> None:
    three.move_alias("demo", "champion", "1", action="promote", reason="test")
    three.move_alias("demo", "challenger", "3", action="register", reason="test")
    three.move_alias("demo", "stable", "3", action="promote", reason="test")
    reader = TableReader.for_uri(three.uri)
    assert reader is not None
    for version in ("1", "2", "3"):
        read = reader.version("demo", version)
        assert read is not None
        assert read.model_dump() == _mlflow(three, version)
    assert reader.version("demo", "2").passed is False  # type: ignore[union-attr]
    assert reader.version("demo", "3").aliases == ["challenger", "stable"]  # type: ignore[union-attr]
    known, champion = reader.alias("demo", "champion")
    assert known
    assert champion is not None
    assert champion.model_dump() == _mlflow(three, "1")
    assert three.alias("demo", "challenger") == reader.version("demo", "3")


def test_what_the_reader_cannot_tell_is_left_to_mlflow(three: Catalog) -> None:
    reader = TableReader.for_uri(three.uri)
    assert reader is not None
    assert reader.alias("demo", "champion") == (True, None)  # the alias points nowhere
    assert three.client.get_registered_model("demo").aliases == {}  # as MLflow says
    assert reader.alias("other", "champion") == (False, None)  # no such model: ask MLflow
    assert reader.version("demo", "9") is None
    assert reader.version("other", "1") is None
    assert TableReader.for_uri("http://127.0.0.1:5000") is None
    assert TableReader.for_uri("databricks") is None


def test_a_schema_the_reader_does_not_know_turns_it_off(three: Catalog) -> None:
    path = three.uri.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE latest_metrics RENAME TO latest_metrics_renamed")
    reader = TableReader.for_uri(three.uri)
    assert reader is not None
    assert reader.version("demo", "1") is None
    assert reader.usable is False
