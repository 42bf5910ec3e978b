"""The one error tree of mlgate.

Every error a user can cause names the thing, the value received, what is
allowed, and the fix. The command-line tool turns any of them into a message
and exit code 2, never a traceback::

    MlgateError
    ├── ConfigError(ValueError)        a bad mlgate.yaml: file, field path, value, allowed
    ├── SchemaError(ValueError)        a schema file that cannot be read or is malformed
    ├── DataError(ValueError)          a dataset that cannot be read or used
    ├── TrainingError(RuntimeError)    fitting failed on data that passed validation
    ├── ArtifactError(ValueError)      a model artifact that is missing, unsafe or tampered with
    ├── RegistryError(LookupError)     an unknown model, version or alias; a registry that fails
    └── GitHubError(RuntimeError)      a GitHub API call that failed: status, repository, fix
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "GitHubError",
    "MlgateError",
    "RegistryError",
    "SchemaError",
    "ServeError",
    "TrainingError",
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
    """Root of every error mlgate raises on purpose."""


class ConfigError(MlgateError, ValueError):
    """A configuration file or value that mlgate cannot use."""

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
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.field = field
        self.value = value
        self.allowed = allowed
        self.fix = fix
        where = ": ".join(part for part in (self.file, field) if part)
        parts = [f"{where}: {problem}" if where else problem]
        if show_value and value is not None:
            parts.append(f"Got {_show(value)}.")
        if allowed:
            parts.append(f"Allowed: {allowed}.")
        if fix:
            parts.append(fix)
        super().__init__(_sentences(*parts))


class SchemaError(MlgateError, ValueError):
    """A schema file that cannot be read, or a schema entry that makes no sense."""

    def __init__(self, problem: str, *, file: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.fix = fix
        message = f"{self.file}: {problem}" if self.file else problem
        super().__init__(_sentences(message, fix))


class DataError(MlgateError, ValueError):
    """A dataset that cannot be read, or cannot be used for the step asked of it."""

    def __init__(self, problem: str, *, source: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.source = str(source) if source is not None else None
        self.fix = fix
        message = f"{self.source}: {problem}" if self.source else problem
        super().__init__(_sentences(message, fix))


class TrainingError(MlgateError, RuntimeError):
    """Fitting or scoring failed on data that passed validation."""


class ArtifactError(MlgateError, ValueError):
    """A model artifact that is missing, of an unsafe type, or altered since it was written."""

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.fix = fix
        message = f"{self.path}: {problem}" if self.path else problem
        super().__init__(_sentences(message, fix))


class RegistryError(MlgateError, LookupError):
    """A model, version or alias the registry does not have, or a registry that fails."""

    def __init__(self, problem: str, *, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(_sentences(problem, fix))


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
        self.problem = problem
        self.repository = repository
        self.pr = pr
        self.status = status
        self.retry_after = retry_after
        self.fix = fix
        where = "GitHub"
        if repository:
            where += f" {repository}" + (f"#{pr}" if pr is not None else "")
        message = f"{where}: {problem}" + (f" (HTTP {status})" if status is not None else "") + "."
        super().__init__(_sentences(message, fix))


class ServeError(MlgateError, RuntimeError):
    """The gateway could not keep serving: its workers kept dying."""

    def __init__(self, problem: str, *, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(_sentences(problem, fix))
