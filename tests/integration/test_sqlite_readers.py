"""SQLite: units of work that only read run on their own connections, so a read never waits
for a connection the writers hold while they queue for SQLite's one write lock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from kadath.domain.errors import KadathError
from kadath.domain.player import Player
from kadath.persistence.engine import SQLITE_MAX_OVERFLOW, SQLITE_POOL_SIZE
from kadath.persistence.layer import AsyncPersistenceLayer


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("a reader engine is SQLite's alone; PostgreSQL has one pool for both")


@contextlib.asynccontextmanager
async def writers_holding_every_connection(
    persistence: AsyncPersistenceLayer,
) -> AsyncIterator[None]:
    """Check out every connection of the writers' pool, the first inside a write transaction
    (it holds the write lock), the others idle as if queued behind it."""
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(persistence.engine.connect())
        await stack.enter_async_context(first.begin())
        for _ in range(SQLITE_POOL_SIZE + SQLITE_MAX_OVERFLOW - 1):
            await stack.enter_async_context(persistence.engine.connect())
        yield


@pytest.mark.usefixtures("sqlite_only")
async def test_a_read_does_not_wait_for_the_writers_connections(
    persistence: AsyncPersistenceLayer, save_player: object
) -> None:
    player: Player = await save_player()  # type: ignore[operator]
    async with writers_holding_every_connection(persistence):
        async with asyncio.timeout(5):  # the writers' pool would make it wait 10 s, then fail
            read = await persistence.get_player_by_id(player.id)
            async with persistence.reading() as uow:
                in_room = await uow.players.get_players_in_room(player.room_id)
    assert read.id == player.id
    assert player.id in {p.id for p in in_room}


@pytest.mark.usefixtures("sqlite_only")
async def test_a_reading_unit_of_work_cannot_write(persistence: AsyncPersistenceLayer) -> None:
    with pytest.raises((KadathError, OperationalError)):
        async with persistence.reading() as uow:
            await uow.session.execute(sa.text("DELETE FROM players"))
