"""Secret keys every process of a deployment shares, kept in the state store.

The gateway signs the request ids it issues with one (`shared_key`), so that any
of its workers, on any machine and after any restart, can tell an id it issued
from one a client made up. A key is made once, at first use, by whichever
process asks first; the others read it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from mlgate.state.base import Base
from mlgate.state.store import StateStore

__all__ = ["shared_key"]


class _KeyRow(Base):
    __tablename__ = "mlgate_keys"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: 32 random bytes, hex.
    value: Mapped[str] = mapped_column(String(128))


def shared_key(store: StateStore, name: str) -> bytes:
    """The key called `name`, made now if nobody has made it yet."""
    with store.session() as session:
        row = session.get(_KeyRow, name)
        if row is not None:
            return bytes.fromhex(row.value)
    made = secrets.token_hex(32)
    try:
        with store.session() as session:
            session.add(_KeyRow(name=name, value=made))
        return bytes.fromhex(made)
    except IntegrityError:  # another process made it at the same moment: theirs it is
        with store.session() as session:
            return bytes.fromhex(
                session.scalars(select(_KeyRow.value).where(_KeyRow.name == name)).one()
            )
