"""MLflow as the catalog uses it: quiet, quick to give up, and its "not found" told apart."""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["missing", "quiet_mlflow"]

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


def missing(e: Any) -> bool:
    """Whether an MlflowException says the thing asked for does not exist."""
    return str(getattr(e, "error_code", "")) in (
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_PARAMETER_VALUE",
    )
