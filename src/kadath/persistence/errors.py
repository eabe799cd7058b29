"""Translating driver and SQLAlchemy exceptions into Kadath's tree, once, at the adapter.

Only a database out of reach is an outage (``DatabaseUnavailable``): a refused, reset or lost
connection, a pool timeout, a server shutting down or starting up, SQLite's lock timeout.
Constraint and data errors are the caller's bad input. Anything else — a bad statement, a
missing table, a mapping mistake — is a bug: ``translate`` returns None and it is raised as is.
"""

from __future__ import annotations

import sys

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kadath.domain.errors import (
    DatabaseUnavailable,
    DuplicateName,
    InvalidInput,
    KadathError,
    NotFound,
)

UNAVAILABLE = "The world's memory is out of reach for a moment; try again shortly."
# 08: connection exceptions; 53300: too many connections; 57P01-03: admin shutdown, crash
# shutdown, cannot connect now (the server is starting up or shutting down).
_OUTAGE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")
# SQLite reports schema and syntax mistakes as OperationalError too: those are bugs.
_SQLITE_BUGS = ("no such ", "syntax error", "has no column", "already exists")


def translate(exc: BaseException) -> KadathError | None:
    """The Kadath error a caller should see for a database failure, or None for a bug."""
    if is_outage(exc):
        return DatabaseUnavailable(UNAVAILABLE)
    if isinstance(exc, IntegrityError):
        text = str(exc.orig).lower()
        if "name_key" in text or "username_key" in text:
            return DuplicateName("That name is already taken.")
        if "foreign key" in text:
            return NotFound("Something referred to does not exist.")
        return InvalidInput("The change breaks a rule of the world and was not saved.")
    if isinstance(exc, DBAPIError) and _sqlstate(exc.orig).startswith("22"):
        # Class 22, data exceptions: text the database cannot store (a NUL byte), a number
        # out of range. The caller sent bad input; nothing was written.
        return InvalidInput("That input cannot be stored.")
    return None


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is out of reach (rather than a bug or bad input)."""
    if isinstance(exc, (OSError, PoolTimeout, *_asyncpg_interface_error())):
        return True  # OSError covers refused, reset and timed-out connections
    if _sqlstate(exc).startswith(_OUTAGE_SQLSTATES):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or (exc.orig is not None and is_outage(exc.orig)):
        return True
    if isinstance(exc, OperationalError):
        return not any(marker in str(exc.orig).lower() for marker in _SQLITE_BUGS)
    return isinstance(exc, InterfaceError)


def _asyncpg_interface_error() -> tuple[type[BaseException], ...]:
    """asyncpg's ``InterfaceError`` once asyncpg is loaded (by a PostgreSQL engine's first
    connection); before that no asyncpg error can exist, and a server on SQLite never loads it
    (~5 MiB and ~15 ms of imports)."""
    asyncpg = sys.modules.get("asyncpg")
    return () if asyncpg is None else (asyncpg.InterfaceError,)


def _sqlstate(exc: BaseException | None) -> str:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return str(code or "")
