"""Seeding the world files' floor items and containers, once each."""

from __future__ import annotations

import asyncio
from typing import Any

from kadath.domain.item import InInventory, OnFloor
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import Base, ContainerRow, WorldSeedRow

SQUARE = OnFloor("town.square")


async def _floor_and_chest(persistence: AsyncPersistenceLayer) -> tuple[list[str], list[str]]:
    floor = sorted(i.prototype_id for i in await persistence.items_at(SQUARE))
    async with persistence.unit_of_work() as uow:
        chest = await uow.containers.get_container_by_world_key("town.square.chest")
        assert chest is not None
        inside = sorted(i.prototype_id for i in await uow.containers.contents(chest.id))
    return floor, inside


async def test_the_small_worlds_floor_items_and_chest_exist_after_seeding(
    persistence: AsyncPersistenceLayer, stored: Any, chest: Any
) -> None:
    assert await _floor_and_chest(persistence) == (["coin", "coin", "lantern"], ["razor"])
    assert (chest.name, chest.capacity, chest.locked, chest.room_id) == (
        "an iron chest",
        3,
        True,
        "town.square",
    )
    assert chest.key_prototype_id == "brass_key"
    assert chest.metadata == {"keywords": ["chest"], "description": "Heavy."}
    assert await stored.items() == 4
    assert await stored.count(ContainerRow) == 1


async def test_seeding_again_places_nothing_more(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    assert await persistence.seed_world() == 0
    assert await persistence.seed_world() == 0

    assert await _floor_and_chest(persistence) == (["coin", "coin", "lantern"], ["razor"])
    assert await stored.items() == 4
    assert await stored.count(ContainerRow) == 1


async def test_an_item_taken_from_the_floor_is_not_put_back(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    (lantern,) = [i for i in await persistence.items_at(SQUARE) if i.prototype_id == "lantern"]
    await persistence.transfer_item(lantern.id, SQUARE, InInventory(player.id))

    assert await persistence.seed_world() == 0

    assert await _floor_and_chest(persistence) == (["coin", "coin"], ["razor"])
    assert await stored.items() == 4


async def test_an_emptied_chest_is_not_refilled(
    persistence: AsyncPersistenceLayer, stored: Any, chest: Any
) -> None:
    (razor,) = await persistence.container_contents(chest.id)
    async with persistence.unit_of_work() as uow:
        await uow.items.move_item(razor.id, OnFloor("harbour.dock"))

    assert await persistence.seed_world() == 0

    assert await persistence.container_contents(chest.id) == []
    assert await stored.place(razor.id) == OnFloor("harbour.dock")


async def test_seeding_an_empty_database_places_everything_and_claims_the_room(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    await _empty_world(persistence)

    assert await persistence.seed_world() == 4

    assert await _floor_and_chest(persistence) == (["coin", "coin", "lantern"], ["razor"])
    assert await stored.count(WorldSeedRow, WorldSeedRow.key == "room:town.square") == 1


async def test_several_processes_seeding_at_once_place_the_world_once(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    await _empty_world(persistence)

    results = await asyncio.gather(
        *(persistence.seed_world() for _ in range(4)), return_exceptions=True
    )

    assert [r for r in results if not isinstance(r, int)] == []
    assert sum(results) == 4  # type: ignore[arg-type]
    assert await _floor_and_chest(persistence) == (["coin", "coin", "lantern"], ["razor"])
    assert await stored.items() == 4
    assert await stored.count(ContainerRow) == 1


async def _empty_world(persistence: AsyncPersistenceLayer) -> None:
    names = {"item_instances", "containers", "world_seeds"}
    async with persistence.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in names:
                await conn.execute(table.delete())


async def test_a_chest_seeded_before_container_claims_existed_is_not_duplicated(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    # A database seeded by an older release holds the chest but no "container:" seed key.
    async with persistence.engine.begin() as conn:
        await conn.execute(
            WorldSeedRow.__table__.delete().where(WorldSeedRow.key.like("container:%"))
        )

    assert await persistence.seed_world() == 0

    assert await stored.count(ContainerRow) == 1
    assert await _floor_and_chest(persistence) == (["coin", "coin", "lantern"], ["razor"])
