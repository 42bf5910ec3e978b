"""What a message may show of a data file: all of the project's own, none of anyone else's.

A config can name any file this process can read (`data.train: /etc/passwd`),
and errors reach CI logs and pull-request comments. Inside a `withheld` block
(the road opens one while it checks a file outside the project's folder, or at a
URL), messages built with these helpers name the file's columns by position,
unless the project itself names them (in its config or schema), list no column
names, and show none of its values. Outside such a block they show everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.data.report import ValidationReport

__all__ = ["closest", "column", "example", "examples", "names", "report", "value", "withheld"]


@dataclass(frozen=True)
class _Withheld:
    positions: dict[str, int]  # the file's column names → their position, from 1
    named: frozenset[str]  # names the project gives: shown


_WITHHELD: ContextVar[_Withheld | None] = ContextVar("mlgate_withheld", default=None)


@contextmanager
def withheld(columns: Iterable[object], *, named: Iterable[str] = ()) -> Iterator[None]:
    """Within the block, messages show no value of the file whose header is `columns`,
    and no name of its columns but those in `named`."""
    positions = {str(c): i for i, c in enumerate(columns, start=1)}
    token = _WITHHELD.set(_Withheld(positions, frozenset(named)))
    try:
        yield
    finally:
        _WITHHELD.reset(token)


def column(name: object, *, quoted: bool = True) -> str:
    """`name` (quoted, or as it is); withheld, "column N" by its position in the file."""
    hidden = _WITHHELD.get()
    text = str(name)
    # A name the file does not have is not the file's to withhold.
    if hidden is None or text in hidden.named or text not in hidden.positions:
        return repr(name) if quoted else text
    return f"column {hidden.positions[text]}"


def names(columns: Iterable[object]) -> str:
    """The names, comma-separated; withheld, how many there are, not what they are."""
    listed = [str(c) for c in columns]
    if _WITHHELD.get() is None:
        return ", ".join(listed)
    return f"the file's {len(listed)} column(s), not named here: it is outside the project"


def closest(name: str, columns: Iterable[object]) -> str:
    """'Did you mean X? ' for the column whose name is nearest `name`; withheld or none
    near, nothing."""
    import difflib

    if _WITHHELD.get() is not None:
        return ""
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r}? " if close else ""


def value(found: object) -> str:
    """`found` quoted; withheld, "(not shown)"."""
    return repr(found) if _WITHHELD.get() is None else "(not shown)"


def example(found: object, *, lead: str = "e.g. ") -> str:
    """' (e.g. VALUE)' to follow a description; withheld, nothing."""
    return f" ({lead}{found!r})" if _WITHHELD.get() is None else ""


def examples(found: Iterable[object]) -> str:
    """The values quoted, comma-separated; withheld, nothing."""
    return ", ".join(repr(v) for v in found) if _WITHHELD.get() is None else ""


def report(found: ValidationReport) -> ValidationReport:
    """A validation report as messages may show it; withheld, its columns by position
    and no example rows (their values). The counts, rules and bounds stay."""
    if _WITHHELD.get() is None:
        return found
    violations = [
        v.model_copy(
            update={
                "column": None if v.column is None else column(v.column, quoted=False),
                "examples": [],
            }
        )
        for v in found.violations
    ]
    return found.model_copy(update={"violations": violations})
