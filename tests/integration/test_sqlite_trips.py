"""SQLite through aiosqlite: every call into its thread is a wait for the event loop's next
turn, and a write transaction holds SQLite's one write lock through all of them. A transaction
takes one trip to begin, one a statement, none to go back to the pool after its commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa

from kadath.persistence.engine import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Any]:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with made.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)"))
    yield made
    await made.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function aiosqlite's thread ran."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_an_empty_transaction_takes_two_trips(engine: Any, trips: list[str]) -> None:
    async with engine.connect() as conn:  # connected before counting
        await conn.execute(sa.text("SELECT 1"))
        await conn.commit()
    trips.clear()

    async with engine.begin():
        pass

    assert len(trips) == 2, trips  # BEGIN IMMEDIATE, COMMIT


async def test_a_unit_of_work_that_writes_one_row_takes_three_trips(
    engine: Any, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT 1"))
    trips.clear()

    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO notes (text) VALUES ('x')"))

    assert len(trips) == 3, trips  # BEGIN IMMEDIATE, the INSERT, COMMIT


async def test_a_connection_back_in_the_pool_mid_transaction_is_rolled_back(
    engine: Any,
) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        # Behind SQLAlchemy's back: it believes no transaction is open.
        await driver.execute_fetchall("BEGIN IMMEDIATE")
        await driver.execute_fetchall("INSERT INTO notes (text) VALUES ('stray')")

    async with engine.begin() as conn:  # the write lock is free again: it was rolled back
        count = (await conn.execute(sa.text("SELECT count(*) FROM notes"))).scalar()
    assert count == 0


async def test_a_statement_takes_one_trip_and_gives_back_what_sqlalchemy_reads(
    engine: Any, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        trips.clear()
        inserted = await conn.execute(sa.text("INSERT INTO notes (text) VALUES ('a')"))
        assert len(trips) == 1, trips
        assert (inserted.rowcount, inserted.lastrowid) == (1, 1)

        many = await conn.execute(
            sa.text("INSERT INTO notes (text) VALUES (:t)"), [{"t": "b"}, {"t": "c"}]
        )
        assert many.rowcount == 2

        trips.clear()
        rows = (await conn.execute(sa.text("SELECT id, text FROM notes ORDER BY id"))).all()
        assert len(trips) == 1, trips
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]

        empty = await conn.execute(sa.text("SELECT id FROM notes WHERE id > 99"))
        assert list(empty.keys()) == ["id"]
        assert empty.all() == []

        updated = await conn.execute(sa.text("UPDATE notes SET text = 'z' WHERE id < 3"))
        assert updated.rowcount == 2


async def test_a_failing_statement_raises_sqlalchemys_error(engine: Any) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("INSERT INTO notes (id, text) VALUES (1, 'a')"))
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(sa.text("INSERT INTO notes (id, text) VALUES (1, 'b')"))
