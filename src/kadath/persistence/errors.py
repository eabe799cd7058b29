"""Translating driver and SQLAlchemy exceptions into Kadath's tree, once, at the adapter."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kadath.domain.errors import (
    DatabaseUnavailable,
    DuplicateName,
    InvalidInput,
    KadathError,
    NotFound,
)


def translate(exc: SQLAlchemyError) -> KadathError:
    """The Kadath error a caller should see for a database failure."""
    if isinstance(exc, IntegrityError):
        text = str(exc.orig).lower()
        if "name_key" in text or "username_key" in text:
            return DuplicateName("That name is already taken.")
        if "foreign key" in text:
            return NotFound("Something referred to does not exist.")
        return InvalidInput("The change breaks a rule of the world and was not saved.")
    if isinstance(exc, DBAPIError) and _sqlstate(exc).startswith("22"):
        # Class 22, data exceptions: text the database cannot store (a NUL byte), a number
        # out of range. The caller sent bad input; nothing was written.
        return InvalidInput("That input cannot be stored.")
    if isinstance(exc, PoolTimeout):
        return DatabaseUnavailable("The database is too busy; try again shortly.")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable("The database connection was lost.")
    return DatabaseUnavailable(f"The database refused the work: {type(exc).__name__}")


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(code or "")
