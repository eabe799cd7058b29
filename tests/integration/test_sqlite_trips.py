"""SQLite through aiosqlite: every call into its thread is a wait for the event loop's next
turn, and a write transaction holds SQLite's one write lock through all of them. A transaction
takes one trip to begin, none to go back to the pool after its commit."""

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
