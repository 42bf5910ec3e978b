"""MLflow as the catalog uses it: quiet, quick to give up, and its "not found" told apart."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlgate.config.settings import redact_url
from mlgate.errors import RegistryError
from mlgate.registry._lock import registry_lock, sqlite_file
from mlgate.registry._record import read_reasons
from mlgate.registry.versions import VersionInfo

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "TAG",
    "call",
    "connect",
    "escape",
    "missing",
    "quiet_mlflow",
    "refused",
    "unreadable",
    "version_info",
]

#: The prefix of the tags mlgate keeps on runs and versions.
TAG = "mlgate."

#: MLflow's own HTTP defaults retry a tracking server that does not answer for about four
#: minutes (7 retries, backoff factor 2, 120 s timeout) before a command can say so. A
#: command line tool should say so in seconds; any value the user sets is kept.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def quiet_mlflow() -> None:
    for name in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for variable, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(variable, value)


def connect(uri: str) -> MlflowClient:
    """An MLflow client of the registry at `uri` (importing MLflow takes about a second)."""
    quiet_mlflow()
    from mlflow import MlflowClient

    quiet_mlflow()  # again: MLflow's first import sets its loggers to INFO

    # MLflow makes (or migrates) the tables when it makes its stores (the client
    # its tracking store, the first registry call its registry store), and two
    # processes doing so at once fail: one at a time, under the registry's lock.
    from sqlalchemy.exc import SQLAlchemyError

    with registry_lock(uri):
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        except SQLAlchemyError as e:
            raise unreadable(uri, e) from e
        if sqlite_file(uri) is not None:
            call(uri, lambda: client.search_registered_models(max_results=1))
    return client


def call(uri: str, fn: Callable[[], Any]) -> Any:
    """What `fn` returns, an MLflow or database error from the registry at `uri` told as
    the RegistryError it becomes."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return fn()
    except MlflowException as e:
        raise refused(uri, e) from e
    except SQLAlchemyError as e:
        raise unreadable(uri, e) from e


def missing(e: Any) -> bool:
    """Whether an MlflowException says the thing asked for does not exist."""
    return str(getattr(e, "error_code", "")) in (
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_PARAMETER_VALUE",
    )


def escape(name: str) -> str:
    """`name` quoted for an MLflow search filter."""
    return name.replace("'", "\\'")


def refused(uri: str, e: Any) -> RegistryError:
    """The RegistryError an MlflowException from the registry at `uri` becomes."""
    message = redact_url(str(e.message).rstrip("."))
    unreachable = any(
        word in message for word in ("Max retries exceeded", "Connection refused", "timed out")
    )
    return RegistryError(
        f"the registry at {redact_url(uri)} "
        + ("cannot be reached" if unreachable else "refused")
        + f": {message[:500]}.",
        fix="Check that the tracking server runs and the URI is right "
        "(MLGATE_REGISTRY_URI or MLFLOW_TRACKING_URI), or unset both to use the "
        "project's own registry under .mlgate/."
        if unreachable
        else None,
        unreachable=unreachable,
    )


def unreadable(uri: str, e: Exception) -> RegistryError:
    """The RegistryError a database error from the registry at `uri` becomes (a file
    that is not a database, tables of something else)."""
    detail = str(getattr(e, "orig", None) or e).strip().splitlines()
    return RegistryError(
        f"the registry at {redact_url(uri)} cannot be read as an MLflow registry: "
        f"{redact_url(detail[0] if detail else type(e).__name__)[:300]}.",
        fix="Point MLGATE_REGISTRY_URI (or MLFLOW_TRACKING_URI) at an MLflow registry, or "
        "unset both to use the project's own registry under .mlgate/.",
    )


def version_info(client: Any, version: Any) -> VersionInfo:
    """What mlgate knows of an MLflow model version: verdict, digests, metrics."""
    tags = dict(version.tags or {})
    passed = tags.get(f"{TAG}passed")
    metrics: dict[str, float] = {}
    if version.run_id:
        try:
            metrics = dict(client.get_run(version.run_id).data.metrics)
        except Exception:
            metrics = {}
    return VersionInfo(
        name=version.name,
        version=str(version.version),
        run_id=version.run_id,
        source=version.source,
        passed=None if passed is None else passed == "true",
        reasons=read_reasons(tags.get(f"{TAG}reasons")),
        aliases=sorted(version.aliases or []),
        metrics=metrics,
        sha256=tags.get(f"{TAG}sha256") or None,
        card_sha256=tags.get(f"{TAG}card_sha256") or None,
        created=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC),
        tags=tags,
    )
