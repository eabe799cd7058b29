"""Building the async engine for SQLite or PostgreSQL, with the settings each needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlalchemy.util import await_

from kadath.persistence.uow import READ_ONLY, SessionFactory

SQLITE_POOL_SIZE = 1
SQLITE_MAX_OVERFLOW = 2
# Connections of the SQLite reader engine (``create_reader_engine``): under WAL a reader never
# waits for the writer, so reads need not queue behind writes for the writer engine's three.
SQLITE_READERS = 4
CONNECT_TIMEOUT_SECONDS = 5.0


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 10.0,
    statement_timeout_ms: int = 10_000,
    echo: bool = False,
) -> AsyncEngine:
    """An engine for ``url``: WAL and immediate transactions on SQLite, a checked pool on
    PostgreSQL. Raises ValueError for any other driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size, max_overflow, pool_timeout, echo)
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(
            f"unsupported database URL {parsed.drivername!r}: "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    # A database that does not answer fails a connect in seconds, not asyncpg's default minute.
    connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_SECONDS}
    if statement_timeout_ms:
        connect_args["server_settings"] = {"statement_timeout": str(statement_timeout_ms)}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        connect_args=connect_args,
        echo=echo,
    )


def create_reader_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """For a SQLite database in a file: a second engine on it for the units of work that only
    read (``AsyncPersistenceLayer.reading``), its connections read-only (``query_only``).
    Reads then never wait for a connection the writers hold while they queue for SQLite's one
    write lock (at 1,000 players, a ``look`` waited seconds that way). None for PostgreSQL,
    whose one pool serves both, and for an in-memory database, which a second engine would
    not see."""
    url = engine.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if url.query.get("mode") == "memory":
        return None
    return _sqlite_engine(
        url.render_as_string(hide_password=False),
        SQLITE_READERS,
        0,
        engine.pool.timeout(),  # type: ignore[attr-defined]
        engine.echo,
        readers=True,
    )


def _sqlite_engine(
    url: str,
    pool_size: int,
    max_overflow: int,
    pool_timeout: float,
    echo: bool,
    *,
    readers: bool = False,
) -> AsyncEngine:
    from kadath.persistence.sqlite_trips import one_trip  # SQLite's alone

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # SQLite has one writer: more connections only wait in its busy handler, which is slower
    # than waiting for the pool. Two overflow connections let a nested unit of work proceed.
    # Readers take no write lock: a reader engine has as many as it is given.
    engine = create_async_engine(
        url,
        pool_reset_on_return=None,  # the "reset" hook below rolls back when it is needed
        pool_size=pool_size if readers else min(pool_size, SQLITE_POOL_SIZE),
        max_overflow=max_overflow if readers else min(max_overflow, SQLITE_MAX_OVERFLOW),
        pool_timeout=pool_timeout,
        echo=echo,
    )
    pragmas = (
        "PRAGMA journal_mode=WAL",
        "PRAGMA busy_timeout=5000",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
        *(("PRAGMA query_only=ON",) if readers else ()),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the "begin" hook) and tune SQLite.
        one_trip(dbapi_connection)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front: a read-then-write transaction never
        # fails with SQLITE_BUSY half-way, it waits its turn under busy_timeout instead.
        # A unit of work declared read-only takes a plain BEGIN: under WAL it never waits.
        read_only = readers or conn.get_execution_options().get(READ_ONLY, False)
        _begin(conn, "BEGIN" if read_only else "BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
        # A connection back in the pool is rolled back only if SQLite says a transaction is
        # open: after a commit (the usual case) that would be one more trip to aiosqlite's
        # thread, and a wait for the loop to come back, for nothing.
        if state.terminate_only or not state.asyncio_safe:
            return
        if dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    return engine


def _begin(conn: Any, statement: str) -> None:
    """``statement`` in one trip to aiosqlite's thread (``exec_driver_sql`` makes four: a
    cursor, the statement, its rows, closing it). A trip is a wait for the event loop's next
    turn, and a write transaction holds SQLite's lock for all of its trips."""
    import sqlite3  # loaded by aiosqlite already; a server on PostgreSQL never needs it

    try:
        await_(conn.connection.driver_connection.execute_fetchall(statement))
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
