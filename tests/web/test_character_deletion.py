"""Deleting a character over REST while it enters the world, and what it leaves behind."""

from __future__ import annotations

import asyncio
import uuid

import httpx2
import sqlalchemy as sa
from kadath_web import WebApp, create_character, register

from kadath.domain.errors import PlayerNotFound
from kadath.domain.item import ContainerKind, InContainer, InInventory, OnFloor
from kadath.persistence.models import ContainerRow, ItemRow, PlayerRow

TRIES = 40


async def _enter(web: WebApp, player_id: uuid.UUID, delay: float) -> str:
    await asyncio.sleep(delay)
    try:
        await web.runtime.entry.enter(player_id)
    except PlayerNotFound:
        return "not found"
    return "entered"


async def test_a_character_deleted_while_it_enters_the_world_never_plays_and_stays_deleted(
    web: WebApp, client: httpx2.AsyncClient
) -> None:
    runtime = web.runtime
    outcomes: list[tuple[int, str]] = []
    ids = []
    for attempt in range(TRIES):
        user = await register(client)  # an account holds only a few characters
        player_id = uuid.UUID((await create_character(client, user))["id"])
        ids.append(player_id)
        deleting = client.delete(f"/api/players/{player_id}", headers=user.headers)
        # Vary who gets ahead, so both orders and the overlaps between are tried.
        delay = (attempt % 20) * 0.00025
        deleted, entered = await asyncio.gather(deleting, _enter(web, player_id, delay))
        outcomes.append((deleted.status_code, entered))
        assert deleted.status_code in (204, 409), deleted.text

    async with runtime.persistence.reading() as uow:
        stored = {p.id for p in await uow.players.get_players_batch(ids)}
    playing = {p.id for p in runtime.game.presence.all()}
    assert not playing - stored, f"deleted yet playing; outcomes {outcomes}"
    for (code, entered), player_id in zip(outcomes, ids, strict=True):
        assert (code == 204) == (player_id not in stored)
        assert (code == 409) == (entered == "entered" and player_id in playing)

    for player_id in list(playing):
        await runtime.entry.leave(player_id)
    async with runtime.persistence.reading() as uow:
        after = {p.id for p in await uow.players.get_players_batch(ids)}
    assert after == stored, "a logout brought a deleted character back"


async def _orphans(web: WebApp) -> list[str]:
    """Items not in exactly one existing place, and containers with no place of their own."""
    rooms = set(web.runtime.persistence.world.rooms)
    async with web.runtime.persistence.engine.connect() as conn:
        players = set((await conn.execute(sa.select(PlayerRow.id))).scalars())
        items = (await conn.execute(sa.select(ItemRow.__table__))).all()
        boxes = (await conn.execute(sa.select(ContainerRow.__table__))).all()
    item_ids = {i.id for i in items}
    # A chest or corpse stands in a room; a bag's container lives in its bag item.
    placed_boxes = {b.id for b in boxes if (b.room_id in rooms) + (b.item_id in item_ids) == 1}
    wrong = [f"container {b.id} has no place" for b in boxes if b.id not in placed_boxes]
    for item in items:
        places = [
            item.owner_player_id in players,
            item.container_id in placed_boxes,
            item.room_id in rooms,
        ]
        if places.count(True) != 1:
            wrong.append(f"item {item.id} ({item.prototype_id}) is in {places.count(True)} places")
    return wrong


async def test_a_deleted_characters_things_are_left_on_the_floor_where_it_stood(
    web: WebApp, client: httpx2.AsyncClient
) -> None:
    persistence = web.runtime.persistence
    user = await register(client)
    player_id = uuid.UUID((await create_character(client, user))["id"])
    room = "arkham.boarding_house_cellar"
    async with persistence.unit_of_work() as uow:
        await uow.players.move_player(player_id, room)
        pack = await uow.items.create_item("canvas_backpack", InInventory(player_id))
        await uow.items.set_worn(pack.id, player_id, "back")
        bag = await uow.containers.create_container(
            kind=ContainerKind.WEARABLE,
            name="a canvas backpack",
            capacity=10,
            item_id=pack.id,
            owner_player_id=player_id,
        )
        held = await uow.items.create_item("brass_key", InInventory(player_id))
        inside = await uow.items.create_item("brass_key", InContainer(bag.id))
    assert await _orphans(web) == []

    deleted = await client.delete(f"/api/players/{player_id}", headers=user.headers)

    assert deleted.status_code == 204, deleted.text
    async with persistence.reading() as uow:
        assert (await uow.items.get_item(pack.id)).location == OnFloor(room)
        assert (await uow.items.get_item(pack.id)).worn_slot is None
        assert (await uow.items.get_item(held.id)).location == OnFloor(room)
        assert (await uow.items.get_item(inside.id)).location == InContainer(bag.id)
        assert (await uow.containers.get_container_by_item(pack.id)) is not None
    assert await _orphans(web) == []
