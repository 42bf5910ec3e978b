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
import shutil
import sys
import types
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path

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


@contextlib.contextmanager
def running_code(files: Mapping[str, bytes]) -> Iterator[None]:
    """Within the block, the code files (verified bytes, by bundle path) are the modules of
    their names and their classes are trusted; afterwards sys.modules is as it was."""
    code = {path: data for path, data in files.items() if path.startswith(f"{CODE_DIR}/")}
    if not code:
        yield
        return
    names = {module_name(path): path for path in code}
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name, path in names.items():
            module = types.ModuleType(name)
            module.__file__ = f"<mlgate version code>/{Path(path).name}"
            sys.modules[name] = module
            try:
                exec(compile(code[path], module.__file__, "exec"), module.__dict__)
            except Exception as e:  # the team's code may fail in any way
                raise ArtifactError(
                    f"the model's own code {Path(path).name} fails to run: {type(e).__name__}: {e}",
                    fix="Fix the file named under model.code and train again.",
                ) from e
        token = _TRUSTED.set(frozenset(names))
        try:
            yield
        finally:
            _TRUSTED.reset(token)
    finally:
        for name, before in saved.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
