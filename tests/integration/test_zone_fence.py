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
