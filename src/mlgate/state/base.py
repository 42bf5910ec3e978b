"""The declarative base every state table shares, so one `create_all` makes them all."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

__all__ = ["Base"]


class Base(DeclarativeBase):
    """Base class of mlgate's state tables."""
