"""A database that refuses connections: every unit of work and the ping raise one
DatabaseUnavailable (the refused connection is an OSError that SQLAlchemy does not wrap)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.world import World
from kadath.persistence.engine import create_engine
from kadath.persistence.layer import AsyncPersistenceLayer


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def unreachable(small_world: World) -> AsyncIterator[AsyncPersistenceLayer]:
    url = f"postgresql+asyncpg://kadath@127.0.0.1:{closed_port()}/kadath"
    layer = AsyncPersistenceLayer(create_engine(url, pool_timeout=2), small_world)
    yield layer
    await layer.close()


async def test_a_refused_connection_in_a_unit_of_work_is_database_unavailable(
    unreachable: AsyncPersistenceLayer,
) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        async with unreachable.unit_of_work() as uow:
            await uow.players.list_players()
    assert isinstance(caught.value.__cause__, OSError)


async def test_a_refused_connection_in_a_reading_unit_of_work_is_database_unavailable(
    unreachable: AsyncPersistenceLayer,
) -> None:
    with pytest.raises(DatabaseUnavailable):
        async with unreachable.reading() as uow:
            await uow.players.list_players()


async def test_a_refused_connection_in_a_one_call_read_is_database_unavailable(
    unreachable: AsyncPersistenceLayer,
) -> None:
    with pytest.raises(DatabaseUnavailable):
        await unreachable.get_all_professions()


async def test_the_ping_and_the_availability_report_the_outage(
    unreachable: AsyncPersistenceLayer,
) -> None:
    assert unreachable.availability.up
    with pytest.raises(DatabaseUnavailable):
        await unreachable.ping()
    assert not unreachable.availability.up
    assert unreachable.availability.outages == 1


async def test_a_bad_statement_is_a_bug_raised_as_it_is_and_rolled_back(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)

    async def work() -> None:
        async with persistence.unit_of_work() as uow:
            await uow.health.damage_player(player, 10, "trap")
            await uow.session.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(SQLAlchemyError) as caught:
        await work()

    assert not isinstance(caught.value, DatabaseUnavailable)
    assert await stored.health(player.id) == 100
    assert persistence.availability.up


async def test_a_refused_connection_in_a_lone_delta_is_database_unavailable(
    unreachable: AsyncPersistenceLayer, make_player: Any
) -> None:
    class _Account:
        id = uuid.uuid4()

    player = make_player(_Account())

    results = await asyncio.gather(
        unreachable.damage_player(player, 5, "trap"),
        unreachable.heal_player(player, 5),
        unreachable.gain_experience(player, 5, "quest"),
        unreachable.update_player_stat_field(player.id, "lucidity", -5, "horror"),
        unreachable.first_visits.record(player, "town.square", 10),
        return_exceptions=True,
    )

    assert all(isinstance(r, DatabaseUnavailable) for r in results), results
    assert not unreachable.availability.up
