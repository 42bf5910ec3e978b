"""The one error tree: every error mlgate raises on purpose is an MlgateError carrying its
HTTP status, a code, the problem and the fix, and the tree in errors.py's docstring is whole."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import pytest

import mlgate
from mlgate import errors
from mlgate.errors import (
    ConfigError,
    DataError,
    InputError,
    MlgateError,
    RevisionConflict,
    RolloutError,
    VersionFailed,
)

SOURCE = Path(mlgate.__file__).parent
TREE = [getattr(errors, name) for name in errors.__all__]

#: Where a builtin exception is right, and why.
BUILTINS_ALLOWED = {
    ("config", "ValueError"): "pydantic validators; the loader turns them into ConfigError",
    ("data/schema.py", "ValueError"): "pydantic validators of the schema file",
    ("testing.py", "TypeError"): "the pytest plugin called with the wrong kind of argument",
    ("testing.py", "AssertionError"): "the plugin's assertions fail as pytest's own do",
    ("__init__.py", "AttributeError"): "a module's __getattr__",
    ("monitor/__init__.py", "AttributeError"): "a module's __getattr__",
    ("state/__init__.py", "AttributeError"): "a module's __getattr__",
    ("cli/rollout.py", "ValueError"): "caught at once and told as a ConfigError",
    ("serving/body.py", "ValueError"): "the JSON parser's hook for NaN and Infinity",
    ("serving/fastpath.py", "ValueError"): "a route table built wrong, at start",
    ("reporting/_github_client.py", "AssertionError"): "unreachable",
    ("registry/_converters.py", "ImportError"): "caught by export, which says why there is no ONNX",
    ("state/layout.py", "ValueError"): "a malformed spool record: the converter quarantines it",
}


def test_every_exported_error_is_in_the_tree() -> None:
    assert all(issubclass(kind, MlgateError) for kind in TREE)


def test_the_docstring_draws_every_error() -> None:
    drawn = errors.__doc__ or ""
    assert [kind.__name__ for kind in TREE if kind.__name__ not in drawn] == []


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ConfigError("bad", field="name"), 422, "ConfigError"),
        (DataError("bad"), 422, "DataError"),
        (RolloutError("none running"), 409, "RolloutError"),
        (RevisionConflict("demo"), 409, "RevisionConflict"),
        (VersionFailed("2", "boom"), 503, "VersionFailed"),
        (InputError("too big", status=413, code="too_large"), 413, "too_large"),
    ],
)
def test_the_status_and_code_come_with_the_error(
    error: MlgateError, status: int, code: str
) -> None:
    assert (error.http_status, error.code) == (status, code)


def test_the_message_is_built_from_the_fields() -> None:
    error = DataError("the target has no values", source="data/train.csv", fix="Label them.")
    assert (error.problem, error.fix, error.source) == (
        "the target has no values",
        "Label them.",
        "data/train.csv",
    )
    assert str(error) == "data/train.csv: the target has no values. Label them."
    assert not isinstance(RolloutError("x"), LookupError)


def _raised(path: Path) -> list[tuple[int, str]]:
    """(line, class name) of each `raise Name(...)` in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            found.append((node.lineno, name))
    return found


def test_the_package_raises_only_errors_of_the_tree() -> None:
    exceptions = {name for name, value in vars(builtins).items() if inspect.isclass(value)}
    strays = []
    for path in sorted(SOURCE.rglob("*.py")):
        place = path.relative_to(SOURCE)
        for line, name in _raised(path):
            allowed = {(place.as_posix(), name), (place.parts[0], name)} & set(BUILTINS_ALLOWED)
            if name in exceptions and not allowed:
                strays.append(f"{place}:{line} raises {name}")
    assert strays == []
