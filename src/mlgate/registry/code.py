"""A team's own code, stored with the version whose model needs it, trusted for it alone.

`model.code: [mymodels.py]` copies those files into the bundle (`code/`), each with
its sha256 in the card. Loading that version runs the stored files, never the
working directory's, as modules of their own name for the time the model is
built, and lets the model file hold classes defined in them, and only there: no
other version, and nothing else in the process, trusts them. Two versions whose
`mymodels.py` differ each get their own.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import shutil
import sys
import types
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from mlgate.errors import ArtifactError

__all__ = ["CODE_DIR", "copy_code", "module_name", "running_code", "trusted_modules"]

#: Where a bundle keeps its code files.
CODE_DIR = "code"

#: Modules whose classes a model file being loaded may hold: those of its own code.
_TRUSTED: ContextVar[frozenset[str]] = ContextVar("mlgate_code_modules", default=frozenset())


def module_name(path: str) -> str:
    """The module a code file defines: its name without `.py`."""
    return Path(path).stem


def trusted_modules() -> frozenset[str]:
    """The modules of the version's own code, while it is being loaded."""
    return _TRUSTED.get()


def copy_code(sources: list[Path], folder: Path) -> list[str]:
    """Copy the code files into `folder`/code; their paths in the bundle."""
    if not sources:
        return []
    target = folder / CODE_DIR
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in sources:
        shutil.copyfile(source, target / source.name)
        copied.append(f"{CODE_DIR}/{source.name}")
    return copied


class _StoredCode(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the version's code files by module name, so that they import each other
    in whatever order model.code lists them, and runs their verified bytes."""

    def __init__(self, code: Mapping[str, bytes]) -> None:
        self._paths = {module_name(path): path for path in code}
        self._code = code

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._paths:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=self._origin(fullname))

    def create_module(self, spec: Any) -> None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        name = module.__name__
        module.__file__ = self._origin(name)
        exec(compile(self._code[self._paths[name]], module.__file__, "exec"), module.__dict__)

    def _origin(self, name: str) -> str:
        return f"<mlgate version code>/{Path(self._paths[name]).name}"


def _failure(path: str, error: Exception) -> ArtifactError:
    """The error of a code file that does not run, with the fix for a missing neighbour."""
    fix = "Fix the file named under model.code and train again."
    if isinstance(error, ModuleNotFoundError) and error.name:
        fix = (
            f"If {error.name} is a file of the team's code, list {error.name}.py under "
            "model.code too (every file the model's code imports is stored with the "
            f"version); if it is a package, install it. Then train again."
        )
    return ArtifactError(
        f"the model's own code {Path(path).name} fails to run: {type(error).__name__}: {error}",
        fix=fix,
    )


@contextlib.contextmanager
def running_code(files: Mapping[str, bytes]) -> Iterator[None]:
    """Within the block, the code files (verified bytes, by bundle path) are the modules of
    their names and their classes are trusted; afterwards sys.modules is as it was.

    The files import each other through a finder placed first on `sys.meta_path`,
    so the order of model.code does not matter.
    """
    code = {path: data for path, data in files.items() if path.startswith(f"{CODE_DIR}/")}
    if not code:
        yield
        return
    finder = _StoredCode(code)
    names = {module_name(path): path for path in code}
    saved = {name: sys.modules.pop(name, None) for name in names}
    sys.meta_path.insert(0, finder)
    try:
        for name, path in names.items():
            try:
                importlib.import_module(name)
            except Exception as e:  # the team's code may fail in any way
                raise _failure(path, e) from e
        token = _TRUSTED.set(frozenset(names))
        try:
            yield
        finally:
            _TRUSTED.reset(token)
    finally:
        sys.meta_path.remove(finder)
        for name, before in saved.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
