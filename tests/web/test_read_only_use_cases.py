"""Use cases that only read take read-only units of work: on SQLite they never wait for the
write lock, and listing characters is one transaction however many there are."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiosqlite
import httpx2
import pytest
import sqlalchemy as sa
from kadath_web import User, WebApp, create_character, register

from kadath.domain.corpse import CorpseRules
from kadath.domain.item import InInventory, OnFloor
from kadath.services.carried import CarriedItems
from kadath.services.corpses import CorpseKeeper

WRITER_HELD = 3.0  # seconds; busy_timeout is 5 s, so a use case that waits fails this bound


@contextlib.asynccontextmanager
async def write_lock_held(web: WebApp) -> AsyncIterator[None]:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE) meanwhile."""
    path = sa.make_url(web.settings.database_url).database
    assert path is not None
    async with aiosqlite.connect(path, isolation_level=None) as other:
        await other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            await other.rollback()


@contextlib.contextmanager
def counting_transactions(web: WebApp) -> Iterator[list[object]]:
    begun: list[object] = []
    engines = [engine.sync_engine for engine in web.runtime.persistence.engines]

    def count(conn: Any) -> None:
        begun.append(conn)

    for engine in engines:
        sa.event.listen(engine, "begin", count)
    try:
        yield begun
    finally:
        for engine in engines:
            sa.event.remove(engine, "begin", count)


@pytest.fixture
async def sqlite_web(web: WebApp, backend: str) -> WebApp:
    if backend != "sqlite":
        pytest.skip("SQLite's write lock only")
    return web


async def test_reading_use_cases_do_not_wait_for_sqlites_write_lock(
    sqlite_web: WebApp, client: httpx2.AsyncClient, admin: User
) -> None:
    runtime = sqlite_web.runtime
    user = await register(client)
    player_id = uuid.UUID((await create_character(client, user))["id"])
    player = await runtime.entry.enter(player_id)
    async with runtime.persistence.unit_of_work() as uow:
        await uow.items.create_item("brass_key", InInventory(player_id))

    async with write_lock_held(sqlite_web), asyncio.timeout(WRITER_HELD):
        account = await runtime.auth.authenticate(user.token)
        assert (await runtime.characters.by_name(account, player.name)).id == player_id
        inventory = await runtime.dispatcher.dispatch(player, "inventory")
        assert inventory.ok and "brass key" in inventory.text
        examined = await runtime.dispatcher.dispatch(player, "examine key")
        assert examined.ok and "brass key" in examined.text.lower()
        carried = CarriedItems(runtime.game.world, runtime.persistence.reading)
        assert [i.name for i in await carried.of(player_id)] == ["a small brass key"]  # telnet GMCP
        listed = await client.get("/api/players", headers=user.headers)
        assert listed.status_code == 200 and listed.json()[0]["id"] == str(player_id)
        invites = await client.get("/api/auth/invites", headers=admin.headers)
        assert invites.status_code == 200, invites.text
        assert await _corpse_keeper(sqlite_web).decay() == 0  # the idle check only reads
        await _facade_reads(sqlite_web, player_id)


def _corpse_keeper(web: WebApp) -> CorpseKeeper:
    runtime = web.runtime
    persistence = runtime.persistence
    return CorpseKeeper(
        persistence.unit_of_work,
        runtime.game.messenger,
        runtime.game.clock,
        CorpseRules(),
        reading=persistence.reading,
    )


async def _facade_reads(web: WebApp, player_id: uuid.UUID) -> None:
    persistence = web.runtime.persistence
    player = await persistence.get_player_by_id(player_id)
    assert await persistence.get_player_by_name(player.name) == player
    assert player in await persistence.get_players_by_user(player.account_id)
    assert player in await persistence.list_players()
    assert player in await persistence.get_players_in_room(player.room_id)
    assert player in await persistence.get_players_batch([player_id])
    assert await persistence.get_all_professions()
    await persistence.get_profession_by_id(player.profession_id)
    [key] = await persistence.items_at(InInventory(player_id))
    assert await persistence.get_item(key.id) == key
    rooms = [r for r in persistence.world.rooms if await persistence.get_containers_in_room(r)]
    boxes = await persistence.get_containers_in_room(rooms[0])
    assert await persistence.get_container(boxes[0].id) == boxes[0]
    await persistence.container_contents(boxes[0].id)
    await persistence.items_at(OnFloor(rooms[0]))


async def test_listing_characters_is_one_transaction_however_many_there_are(
    web: WebApp, client: httpx2.AsyncClient, admin: User
) -> None:
    user = await register(client)
    for _ in range(3):
        await create_character(client, user)

    with counting_transactions(web) as begun:
        mine = await client.get("/api/players", headers=user.headers)
    assert mine.status_code == 200 and len(mine.json()) == 3
    assert len(begun) == 2  # one to authenticate, one to list

    with counting_transactions(web) as begun:
        everyone = await client.get("/api/players?all=true", headers=admin.headers)
    assert everyone.status_code == 200 and len(everyone.json()) == 3
    assert len(begun) == 2
