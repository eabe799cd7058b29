"""SQLite statements in one trip to aiosqlite's thread instead of three or four.

SQLAlchemy's aiosqlite adapter makes a separate call into aiosqlite's thread to open a cursor,
to execute, to fetch the rows and to close the cursor. Each call is a wait for the event loop's
next turn and for the GIL, which a busy loop holds for up to ``sys.getswitchinterval()`` (5 ms)
at a time; a write transaction holds SQLite's write lock through all of them. ``one_trip``
(called from the engine's ``connect`` hook) gives a connection a cursor that does all four in
one call and hands SQLAlchemy the description, row count, last row id and rows together.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import await_

_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, statement: str, parameters: Any) -> _Outcome:
    """In aiosqlite's thread: the statement, its rows, the cursor closed."""
    cursor = conn.cursor()
    try:
        cursor.execute(statement, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, statement: str, parameters: Sequence[Any]) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(statement, parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, rows and close are one call into aiosqlite's thread. It
    opens no aiosqlite cursor: what SQLAlchemy reads afterwards was fetched with the rows."""

    __slots__ = ("_outcome",)
    _awaitable_cursor_close = False  # nothing is left to close in the thread

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = collections.deque()
        self._outcome: _Outcome = (None, -1, None, [])

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> int:
        return self._outcome[2]  # type: ignore[return-value]

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._call(_run, operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._call(_run_many, operation, seq_of_parameters)

    def _call(self, function: Any, operation: Any, parameters: Any) -> None:
        driver = self._connection
        try:
            outcome = await_(driver._execute(function, driver._conn, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._outcome = outcome
        self._rows = collections.deque(outcome[3])

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


def one_trip(dbapi_connection: Any) -> None:
    """Give an aiosqlite connection of SQLAlchemy's the one-trip cursor."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneTripConnection
