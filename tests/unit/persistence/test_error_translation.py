"""Which database failures are outages (DatabaseUnavailable) and which are bugs (raised as is)."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from kadath.domain.errors import DatabaseUnavailable, DuplicateName, InvalidInput
from kadath.persistence.errors import UNAVAILABLE, translate


class DriverError(Exception):
    """A DBAPI error carrying a PostgreSQL sqlstate, as the asyncpg adapter's errors do."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(kind: type[sa_exc.DBAPIError], orig: BaseException, **kw: bool) -> sa_exc.DBAPIError:
    return kind("SELECT 1", {}, orig, **kw)  # type: ignore[arg-type]


OUTAGES = {
    "refused at pool checkout": ConnectionRefusedError(111, "Connect call failed"),
    "reset": ConnectionResetError(104, "Connection reset by peer"),
    "connect timeout": TimeoutError(),
    "server starting up": asyncpg.CannotConnectNowError("the database system is starting up"),
    "connection gone": asyncpg.ConnectionDoesNotExistError("connection was closed"),
    "driver interface error": asyncpg.InterfaceError("connection is closed"),
    "pool timeout": sa_exc.TimeoutError("QueuePool limit reached"),
    "operational": wrapped(sa_exc.OperationalError, Exception("server closed the connection")),
    "interface": wrapped(sa_exc.InterfaceError, Exception("connection is closed")),
    "invalidated": wrapped(sa_exc.DBAPIError, Exception("gone"), connection_invalidated=True),
    "admin shutdown": wrapped(sa_exc.DBAPIError, DriverError("terminating", "57P01")),
    "crash shutdown": wrapped(sa_exc.DBAPIError, DriverError("crash", "57P02")),
    "cannot connect now": wrapped(sa_exc.DBAPIError, DriverError("starting", "57P03")),
    "connection exception": wrapped(sa_exc.DBAPIError, DriverError("lost", "08006")),
    "sqlite locked": wrapped(
        sa_exc.OperationalError, sqlite3.OperationalError("database is locked")
    ),
}

BUGS = {
    "programming": wrapped(sa_exc.ProgrammingError, DriverError("no relation", "42P01")),
    "bad statement": sa_exc.ArgumentError("bad argument"),
    "mapping": sa_exc.InvalidRequestError("mapper failed"),
    "no result": sa_exc.NoResultFound("no row"),
    "other driver error": wrapped(sa_exc.DBAPIError, DriverError("division by zero", "XX000")),
    "sqlite missing table": wrapped(
        sa_exc.OperationalError, sqlite3.OperationalError("no such table: players")
    ),
    "sqlite syntax": wrapped(
        sa_exc.OperationalError, sqlite3.OperationalError('near "SELEC": syntax error')
    ),
}


@pytest.mark.parametrize("failure", OUTAGES.values(), ids=OUTAGES.keys())
def test_connection_pool_and_operational_failures_are_one_outage(failure: BaseException) -> None:
    translated = translate(failure)
    assert type(translated) is DatabaseUnavailable
    assert str(translated) == UNAVAILABLE


@pytest.mark.parametrize("failure", BUGS.values(), ids=BUGS.keys())
def test_every_other_database_error_is_a_bug_raised_as_it_is(failure: BaseException) -> None:
    assert translate(failure) is None


def test_refusals_keep_their_own_sentences() -> None:
    duplicate = wrapped(sa_exc.IntegrityError, Exception("UNIQUE failed: players.name_key"))
    too_long = wrapped(sa_exc.DataError, DriverError("value too long", "22001"))
    assert isinstance(translate(duplicate), DuplicateName)
    assert isinstance(translate(too_long), InvalidInput)


def test_an_unrelated_exception_is_not_the_databases() -> None:
    assert translate(ValueError("x")) is None
