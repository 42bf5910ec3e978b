"""Registered versions read from MLflow's own tables, without importing MLflow.

Importing MLflow brings pandas, pyarrow, polars, scipy and more into the process:
about 190 MB and a second of CPU, in every gateway worker. A gateway only reads
where an alias points and a version with its tags and its run's metrics: on a
database registry (SQLite, PostgreSQL, MySQL) a few rows of tables whose shape
MLflow has kept since aliases came (2.3), read here with SQLAlchemy, which the
state store uses already. Whatever is not as expected (another schema, a model
kept in a workspace, no such row, a deleted version) is left to MLflow's client:
an answer is the one MLflow gives, or MLflow's own.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

from mlgate.registry._mlflow import TAG
from mlgate.registry._record import read_reasons
from mlgate.registry.versions import VersionInfo

__all__ = ["TableReader"]

log = logging.getLogger(__name__)

_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
_DEFAULT_WORKSPACE = "default"
#: The stage MLflow gives a version it deleted but keeps a row of.
_DELETED = "Deleted_Internal"


class TableReader:
    """Reads versions from a database registry's tables; what it cannot tell, MLflow answers."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._engine: Any = None
        #: Off after a query failed: the tables are not what the reader knows.
        self.usable = True

    @classmethod
    def for_uri(cls, uri: str) -> TableReader | None:
        """A reader for a database registry URI; None for any other registry."""
        scheme = uri.split(":", 1)[0].split("+", 1)[0]
        return cls(uri) if scheme in _DATABASES else None

    def alias(self, name: str, alias: str) -> tuple[bool, VersionInfo | None]:
        """(known, the version `alias` points at): known is False when the reader cannot
        tell; (True, None) when the model is registered and the alias points nowhere."""
        if not self._plain_model(name):
            return False, None
        rows = self._rows(
            "SELECT version FROM registered_model_aliases WHERE name = :name AND alias = :alias",
            name=name,
            alias=alias,
        )
        if rows is None or len(rows) > 1:
            return False, None
        if not rows:
            return True, None
        found = self.version(name, str(rows[0]["version"]))
        return found is not None, found

    def version(self, name: str, version: str) -> VersionInfo | None:
        """One version as `_mlflow.version_info` reads it; None when the reader cannot tell."""
        if not version.isdigit() or not self._plain_model(name):
            return None
        found = self._rows(
            "SELECT * FROM model_versions WHERE name = :name AND version = :version",
            name=name,
            version=int(version),
        )
        if not found or len(found) != 1 or found[0].get("current_stage") == _DELETED:
            return None
        row = found[0]
        where = {"name": name, "version": int(version)}
        tags = self._rows(
            "SELECT key, value FROM model_version_tags WHERE name = :name AND version = :version",
            **where,
        )
        aliases = self._rows(
            "SELECT alias FROM registered_model_aliases WHERE name = :name AND version = :version",
            **where,
        )
        metrics: list[dict[str, Any]] | None = []
        if row["run_id"]:
            metrics = self._rows(
                "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = :run",
                run=row["run_id"],
            )
        if tags is None or aliases is None or metrics is None:
            return None
        kept = {str(t["key"]): str(t["value"]) for t in tags}
        passed = kept.get(f"{TAG}passed")
        return VersionInfo(
            name=str(row["name"]),
            version=str(row["version"]),
            run_id=row["run_id"],
            source=str(row["source"]),
            passed=None if passed is None else passed == "true",
            reasons=read_reasons(kept.get(f"{TAG}reasons")),
            aliases=sorted(str(a["alias"]) for a in aliases),
            metrics={
                str(m["key"]): math.nan if m["is_nan"] else float(m["value"]) for m in metrics
            },
            sha256=kept.get(f"{TAG}sha256") or None,
            card_sha256=kept.get(f"{TAG}card_sha256") or None,
            created=datetime.fromtimestamp(int(row["creation_time"]) / 1000, UTC),
            tags=kept,
        )

    def _plain_model(self, name: str) -> bool:
        """Whether `name` is one registered model outside any named workspace."""
        rows = self._rows("SELECT * FROM registered_models WHERE name = :name", name=name)
        if rows is None or len(rows) != 1:
            return False
        return rows[0].get("workspace", _DEFAULT_WORKSPACE) in (None, _DEFAULT_WORKSPACE)

    def _rows(self, query: str, **values: Any) -> list[dict[str, Any]] | None:
        """The query's rows as dicts; None (and the reader off) when it fails."""
        if not self.usable:
            return None
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.pool import NullPool

        try:
            if self._engine is None:
                self._engine = create_engine(self.uri, poolclass=NullPool)
            with self._engine.connect() as connection:
                result = connection.execute(text(query), values)
                return [dict(row._mapping) for row in result]
        except SQLAlchemyError as e:
            log.debug("reading the registry's tables failed, MLflow reads them: %s", e)
            self.usable = False
            return None
