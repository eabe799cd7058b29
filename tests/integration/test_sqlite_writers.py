"""SQLite: this process's writers take turns in an in-process queue, in arrival order, so they
never meet each other in SQLite's busy handler (which polls with sleeps of up to 100 ms).

The engine's connections here get ``busy_timeout=0``: a writer that found the write lock taken
would fail at once with ``database is locked`` instead of sleeping, so any contention shows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from kadath.domain.account import Account
from kadath.domain.player import Player
from kadath.domain.world import World
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.writers import NestedWrite


def random_name() -> str:
    return "T" + "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:10])


WRITERS = 12
ROUNDS = 4


@pytest.fixture
async def layer(tmp_path: Path, small_world: World) -> AsyncIterator[AsyncPersistenceLayer]:
    """A layer on a fresh SQLite file whose connections never wait in the busy handler."""
    opened = await AsyncPersistenceLayer.open(
        f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}", small_world
    )

    @event.listens_for(opened.engine.sync_engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    await opened.engine.dispose()  # the pooled connections are made again, with the pragma
    try:
        yield opened
    finally:
        await opened.close()


async def _player(layer: AsyncPersistenceLayer, make_player: Any) -> Player:
    async with layer.unit_of_work() as uow:
        account: Account = await uow.accounts.create_account(random_name(), "x")
    player: Player = make_player(account)
    await layer.save_player(player)
    return player


async def test_concurrent_writers_never_meet_in_the_busy_handler(
    layer: AsyncPersistenceLayer, make_player: Any
) -> None:
    player = await _player(layer, make_player)

    async def unit_of_work_writer() -> None:
        for _ in range(ROUNDS):
            async with layer.unit_of_work() as uow:
                await uow.session.execute(sa.text("SELECT count(*) FROM accounts"))
                await asyncio.sleep(0)  # others run while this one holds the write lock
                await uow.accounts.create_account(random_name(), "x")

    async def delta_writer() -> None:
        for _ in range(ROUNDS):
            await layer.damage_player(player, 1, "test")
            await layer.heal_player(player, 1)

    results = await asyncio.gather(
        *(unit_of_work_writer() for _ in range(WRITERS)),
        *(delta_writer() for _ in range(WRITERS // 2)),
        return_exceptions=True,
    )

    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    async with layer.reading() as uow:
        accounts = (await uow.session.execute(sa.text("SELECT count(*) FROM accounts"))).scalar()
    assert accounts == 1 + WRITERS * ROUNDS


async def test_writers_queue_in_the_process_not_in_sqlite(
    layer: AsyncPersistenceLayer,
) -> None:
    async def writer() -> None:
        async with layer.unit_of_work() as uow:
            await uow.session.execute(sa.text("SELECT count(*) FROM accounts"))
            await asyncio.sleep(0)
            await uow.accounts.create_account(random_name(), "x")

    assert layer.writers is not None
    waited = layer.writers.waited
    await asyncio.gather(*(writer() for _ in range(WRITERS)))

    assert layer.writers.waited > waited  # some met another writer: in the queue
    assert layer.writers.waiting == 0


async def test_a_write_unit_of_work_inside_another_in_one_task_is_refused_at_once(
    layer: AsyncPersistenceLayer,
) -> None:
    async with layer.unit_of_work() as outer:
        await outer.accounts.create_account("Outer", "x")
        with pytest.raises(NestedWrite):
            async with layer.unit_of_work() as inner:
                await inner.session.execute(sa.text("SELECT 1"))
        async with layer.reading() as reader:  # reading needs no turn
            await reader.session.execute(sa.text("SELECT 1"))
    async with layer.reading() as uow:
        names = (await uow.session.execute(sa.text("SELECT username FROM accounts"))).scalars()
        assert list(names) == ["Outer"]
    async with layer.unit_of_work() as uow:  # the turn was given back
        await uow.accounts.create_account("After", "x")


async def test_a_writer_cancelled_in_the_queue_does_not_keep_the_turn(
    layer: AsyncPersistenceLayer,
) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with layer.unit_of_work() as uow:
            await uow.accounts.create_account("Holder", "x")
            holding.set()
            await release.wait()

    async def queued() -> None:
        async with layer.unit_of_work() as uow:
            await uow.accounts.create_account("Never", "x")

    first = asyncio.create_task(holder())
    await holding.wait()
    second = asyncio.create_task(queued())
    assert layer.writers is not None
    for _ in range(500):  # it connects (aiosqlite's thread), then waits in the queue
        await asyncio.sleep(0.01)
        if layer.writers.waiting:
            break
    assert layer.writers.waiting == 1
    second.cancel()
    release.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second

    async with layer.unit_of_work() as uow:
        await uow.accounts.create_account("Later", "x")
    async with layer.reading() as uow:
        names = (await uow.session.execute(sa.text("SELECT username FROM accounts"))).scalars()
        assert sorted(names) == ["Holder", "Later"]
