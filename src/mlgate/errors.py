"""The one error tree of mlgate.

Every error a user can cause names the thing, the value received, what is
allowed, and the fix. Each keeps `problem` and `fix` as attributes, a
machine-readable `code`, and `http_status`: what the gateway answers when the
error reaches a request. The command-line tool turns any of them into one
message and exit code 2, never a traceback::

    MlgateError (409)                 the request was fine; the state forbids it
    ├── ConfigError (422)             a bad mlgate.yaml or setting: file, field, value, allowed
    ├── SchemaError (422)             a schema file that cannot be read or is malformed
    ├── DataError (422)               a dataset that cannot be read or used
    ├── TrainingError                 fitting failed on data that passed validation
    ├── ArtifactError                 a model artifact that is missing, unsafe or tampered with
    ├── RegistryError (LookupError)   an unknown model, version or alias; a registry that fails
    ├── RolloutError                  a rollout act the rollout's state forbids
    │   └── RevisionConflict          the rollout changed after it was read: someone acted first
    ├── GitHubError                   a GitHub API call that failed: status, repository, fix
    ├── ServeError                    the gateway could not keep serving: its workers kept dying
    ├── InputError (400-422)          a request the gateway refuses: status, code, row, feature
    ├── VersionFailed (503)           a version a request named failed to predict
    ├── LogUnavailable (503)          an answer's record could not be written to the log's spool
    └── InjectedFault (500)           a challenger prediction failed on purpose (MLGATE_FAULTS)

Value errors (config, schema, data, artifact, input) also derive from
`ValueError`; failures of a step from `RuntimeError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "GitHubError",
    "InjectedFault",
    "InputError",
    "LogUnavailable",
    "MlgateError",
    "RegistryError",
    "RevisionConflict",
    "RolloutError",
    "SchemaError",
    "ServeError",
    "TrainingError",
    "VersionFailed",
]


def _sentences(*parts: str | None) -> str:
    """The parts that are there, each but the last ended with a full stop, joined."""
    present = [p.strip() for p in parts if p and p.strip()]
    return " ".join(
        p if i == len(present) - 1 or p.endswith((".", "!", "?", ":")) else p + "."
        for i, p in enumerate(present)
    )


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class MlgateError(Exception):
    """Root of every error mlgate raises on purpose: a `problem`, and the `fix` when known.

    `http_status` is the status the gateway answers with when the error reaches a
    request (409: the request was fine but the state forbids it, unless a subclass
    says otherwise); `code` names the error for machines.
    """

    http_status: int = 409

    def __init__(self, problem: str, *, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self._message())

    @property
    def code(self) -> str:
        """A machine-readable name of the error: the class name unless an instance says."""
        return type(self).__name__

    def _where(self) -> str | None:
        """Where the problem is (a file, a source, a path), put before it in the message."""
        return None

    def _message(self) -> str:
        where = self._where()
        return _sentences(f"{where}: {self.problem}" if where else self.problem, self.fix)


class ConfigError(MlgateError, ValueError):
    """A configuration file or value that mlgate cannot use."""

    http_status = 422

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        value: Any = None,
        allowed: str | None = None,
        fix: str | None = None,
        show_value: bool = True,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.value = value
        self.allowed = allowed
        self.show_value = show_value
        super().__init__(problem, fix=fix)

    def _message(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        parts = [f"{where}: {self.problem}" if where else self.problem]
        if self.show_value and self.value is not None:
            parts.append(f"Got {_show(self.value)}.")
        if self.allowed:
            parts.append(f"Allowed: {self.allowed}.")
        return _sentences(*parts, self.fix)


class SchemaError(MlgateError, ValueError):
    """A schema file that cannot be read, or a schema entry that makes no sense."""

    http_status = 422

    def __init__(self, problem: str, *, file: str | Path | None = None, fix: str | None = None):
        self.file = str(file) if file is not None else None
        super().__init__(problem, fix=fix)

    def _where(self) -> str | None:
        return self.file


class DataError(MlgateError, ValueError):
    """A dataset that cannot be read, or cannot be used for the step asked of it."""

    http_status = 422

    def __init__(self, problem: str, *, source: str | Path | None = None, fix: str | None = None):
        self.source = str(source) if source is not None else None
        super().__init__(problem, fix=fix)

    def _where(self) -> str | None:
        return self.source


class TrainingError(MlgateError, RuntimeError):
    """Fitting or scoring failed on data that passed validation."""


class ArtifactError(MlgateError, ValueError):
    """A model artifact that is missing, of an unsafe type, or altered since it was written."""

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.path = str(path) if path is not None else None
        super().__init__(problem, fix=fix)

    def _where(self) -> str | None:
        return self.path


class RegistryError(MlgateError, LookupError):
    """A model, version or alias the registry does not have, or a registry that fails.

    `unreachable`: the registry could not be reached at all (a tracking server down);
    the gateway answers 503 then, as the act may succeed once it is back.
    """

    def __init__(self, problem: str, *, fix: str | None = None, unreachable: bool = False):
        if unreachable:
            self.http_status = 503
        super().__init__(problem, fix=fix)


class RolloutError(MlgateError, RuntimeError):
    """A rollout act the current rollout state forbids (none running, one already running)."""


class RevisionConflict(RolloutError):
    """The rollout state changed after it was read: someone else acted first."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"the rollout state of {model!r} changed while this change was being made "
            "(another start, promote or abort at the same moment)",
            fix="See what runs now with `mlgate rollout status`, then try again if needed.",
        )


class GitHubError(MlgateError, RuntimeError):
    """A GitHub API call that failed: what was asked, the HTTP status, and the fix.

    The message is built from these fields only; the client removes its token
    from any text GitHub sends back before that text becomes `problem`.
    """

    def __init__(
        self,
        problem: str,
        *,
        repository: str | None = None,
        pr: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        fix: str | None = None,
    ) -> None:
        self.repository = repository
        self.pr = pr
        self.status = status  # GitHub's answer; the gateway never serves this error
        self.retry_after = retry_after
        super().__init__(problem, fix=fix)

    def _message(self) -> str:
        where = "GitHub"
        if self.repository:
            where += f" {self.repository}" + (f"#{self.pr}" if self.pr is not None else "")
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return _sentences(f"{where}: {self.problem}{status}.", self.fix)


class ServeError(MlgateError, RuntimeError):
    """The gateway could not keep serving: its workers kept dying."""


class InputError(MlgateError, ValueError):
    """A request the gateway refuses: its HTTP status, a code, and the row and feature."""

    def __init__(
        self,
        problem: str,
        *,
        status: int = 422,
        code: str = "invalid_input",
        row: int | None = None,
        feature: str | None = None,
        fix: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.http_status = status
        self._code = code
        self.row = row
        self.feature = feature
        #: Seconds before the client may try again (a 429's Retry-After header).
        self.retry_after = retry_after
        super().__init__(problem, fix=fix)

    @property
    def code(self) -> str:
        return self._code

    @property
    def status(self) -> int:
        """The HTTP status of this refusal."""
        return self.http_status

    @property
    def message(self) -> str:
        """The refusal as the client reads it."""
        return str(self)

    def body(self) -> dict[str, Any]:
        """The JSON error body: `error` is the message (KServe's form), `detail` the rest."""
        detail: dict[str, Any] = {"code": self.code}
        if self.row is not None:
            detail["row"] = self.row
        if self.feature is not None:
            detail["feature"] = self.feature
        return {"error": self.message, "detail": detail}


class VersionFailed(MlgateError, RuntimeError):
    """A version named by the request failed to predict (there is no fallback for those)."""

    http_status = 503

    def __init__(self, version: str, error: str) -> None:
        self.version = version
        self.error = error
        super().__init__(f"version {version} failed to predict: {error}")


class LogUnavailable(MlgateError, RuntimeError):
    """A record the prediction log must keep could not be written: the answer (or the
    labels) it records is refused rather than given unrecorded."""

    http_status = 503

    def __init__(self, kind: str, folder: str, reason: str, *, refused: str) -> None:
        self.kind = kind
        self.folder = folder
        self.reason = reason
        super().__init__(
            # Clients read this: the folder is in the gateway's own log and health details.
            f"the {kind} log cannot be written ({reason}), so {refused}",
            fix="Free space on the spool's disk, or point MLGATE_SPOOL_PATH at one with "
            "room; the gateway answers again as soon as its records can be written.",
        )


class InjectedFault(MlgateError, RuntimeError):
    """A challenger prediction failed because a fault was injected (MLGATE_FAULTS)."""

    http_status = 500
