"""The zone fence (``AsyncPersistenceLayer.fence``, set by ``kadath serve --cluster``): a unit
of work that changed a room's floor or containers asks it, in its own transaction, before the
commit; a refusal stores nothing of the unit of work and runs none of its callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.errors import ZoneMoved
from kadath.domain.item import InInventory, OnFloor
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.services.entry import WorldEntry
from kadath.services.events import LocalEventBus
from kadath.services.messenger import FakeMessenger
from kadath.services.presence import Presence

DOCK = OnFloor("harbour.dock")


class FakeFence:
    """Records the zones asked for; refuses those in ``refused``."""

    def __init__(self, *refused: str) -> None:
        self.refused = set(refused)
        self.asked: list[str] = []

    async def __call__(self, session: AsyncSession, zone: str) -> None:
        self.asked.append(zone)
        if zone in self.refused:
            raise ZoneMoved()


@pytest.fixture
def fenced(persistence: AsyncPersistenceLayer) -> Iterator[AsyncPersistenceLayer]:
    yield persistence
    persistence.fence = None


def zone_of(persistence: AsyncPersistenceLayer, room_id: str) -> str:
    return persistence.world.rooms[room_id].zone_id


async def test_a_write_to_a_floor_asks_the_fence_for_its_zone_and_commits_when_allowed(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    coin = await fenced.create_item("coin", DOCK)
    fence = FakeFence()
    fenced.fence = fence

    async with fenced.unit_of_work() as uow:
        await uow.containers.transfer_item(coin.id, DOCK, InInventory(player.id))

    assert fence.asked == [zone_of(fenced, DOCK.room_id)]
    assert await stored.place(coin.id) == InInventory(player.id)


async def test_a_refused_fence_stores_nothing_of_the_unit_of_work_and_runs_no_callback(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    coin = await fenced.create_item("coin", DOCK)
    fenced.fence = FakeFence(zone_of(fenced, DOCK.room_id))
    ran: list[str] = []

    async def callback() -> None:
        ran.append("ran")

    async def work() -> None:
        async with fenced.unit_of_work() as uow:
            await uow.health.damage_player(player, 30, "trap")
            await uow.containers.transfer_item(coin.id, DOCK, InInventory(player.id))
            uow.after_commit(callback)

    with pytest.raises(ZoneMoved, match="reorganising"):
        await work()

    assert ran == []
    assert await stored.place(coin.id) == DOCK
    assert await stored.health(player.id) == 100


async def test_a_unit_of_work_that_touches_no_room_does_not_ask_the_fence(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    fence = FakeFence(*fenced.world.zones)
    fenced.fence = fence

    async with fenced.unit_of_work() as uow:
        await uow.health.damage_player(player, 30, "trap")

    assert fence.asked == []
    assert await stored.health(player.id) == 70


async def test_every_zone_written_is_asked_once_in_zone_order(
    fenced: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player()
    rooms = {}
    for room in fenced.world.rooms.values():
        rooms.setdefault(room.zone_id, room.id)
    assert len(rooms) >= 2, "the test world needs two zones"
    coins = [await fenced.create_item("coin", InInventory(player.id)) for _ in rooms]
    fence = FakeFence()
    fenced.fence = fence

    async with fenced.unit_of_work() as uow:
        for coin, room_id in zip(coins, reversed(list(rooms.values())), strict=True):
            await uow.containers.transfer_item(coin.id, InInventory(player.id), OnFloor(room_id))

    assert fence.asked == sorted(rooms)


def two_zones(persistence: AsyncPersistenceLayer, avoid: str) -> tuple[str, str]:
    """A room of one zone and a room of another, neither of them ``avoid``."""
    rooms: dict[str, str] = {}
    for room in persistence.world.rooms.values():
        if room.id != avoid:
            rooms.setdefault(room.zone_id, room.id)
    assert len(rooms) >= 2, "the test world needs two zones"
    first, second = sorted(rooms)[:2]
    return rooms[first], rooms[second]


async def test_the_periodic_position_save_is_fenced_and_saves_only_zones_run_here(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    walker, wanderer = await save_player(), await save_player()
    here, elsewhere = two_zones(fenced, avoid=walker.room_id)
    presence = Presence()
    entry = WorldEntry(
        fenced.world, presence, FakeMessenger(), LocalEventBus(), fenced.unit_of_work
    )
    entry.runs_room = lambda room: room == here  # as ``HeldZones.runs_room`` with one zone
    for player in (walker, wanderer):
        presence.enter(player, set())
    presence.move(walker, here)
    presence.move(wanderer, elsewhere)  # walked into a zone held elsewhere: saved on leaving
    fence = FakeFence()
    fenced.fence = fence

    assert await entry.save_positions() == 1

    assert fence.asked == [zone_of(fenced, here)]
    assert (await stored.player(walker.id)).room_id == here
    assert (await stored.player(wanderer.id)).room_id != elsewhere
    assert [p.id for p in presence.take_dirty()] == [wanderer.id]


async def test_a_refused_position_save_stores_nothing_and_keeps_every_position_to_save(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    here, _ = two_zones(fenced, avoid=player.room_id)
    presence = Presence()
    entry = WorldEntry(
        fenced.world, presence, FakeMessenger(), LocalEventBus(), fenced.unit_of_work
    )
    presence.enter(player, set())
    presence.move(player, here)
    before = (await stored.player(player.id)).room_id
    fenced.fence = FakeFence(zone_of(fenced, here))

    with pytest.raises(ZoneMoved):
        await entry.save_positions()

    assert (await stored.player(player.id)).room_id == before != here
    assert [p.id for p in presence.take_dirty()] == [player.id]
