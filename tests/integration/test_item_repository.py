"""ItemRepository: creating, finding, moving, wearing and deleting item instances."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kadath.domain.errors import ItemNotFound, NotFound
from kadath.domain.item import ContainerKind, InContainer, InInventory, OnFloor
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ContainerRow, ItemRow, WorldSeedRow

SEEDED_ITEMS = 4  # lantern and two coins on the square's floor, a razor in the chest


async def test_created_items_read_back_where_they_were_put(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, make_container: Any
) -> None:
    player = await save_player()
    crate = await make_container(5)

    floor = await persistence.create_item("lantern", OnFloor("harbour.dock"))
    carried = await persistence.create_item("razor", InInventory(player.id))
    boxed = await persistence.create_item("coin", InContainer(crate.id))

    assert await stored.place(floor.id) == OnFloor("harbour.dock")
    assert await stored.place(carried.id) == InInventory(player.id)
    assert await stored.place(boxed.id) == InContainer(crate.id)
    loaded = await persistence.get_item(carried.id)
    assert (loaded.prototype_id, loaded.location, loaded.worn_slot) == (
        "razor",
        InInventory(player.id),
        None,
    )
    assert await stored.items() == SEEDED_ITEMS + 3


async def test_an_unknown_prototype_is_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    with pytest.raises(ItemNotFound):
        await persistence.create_item("necronomicon", OnFloor("town.street"))
    assert await stored.items() == SEEDED_ITEMS


async def test_an_item_in_an_unknown_inventory_or_container_is_refused(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    with pytest.raises(NotFound):
        await persistence.create_item("coin", InInventory(uuid.uuid4()))
    with pytest.raises(NotFound):
        await persistence.create_item("coin", InContainer(uuid.uuid4()))
    assert await stored.items() == SEEDED_ITEMS


async def test_get_item_refuses_an_unknown_id(persistence: AsyncPersistenceLayer) -> None:
    with pytest.raises(ItemNotFound):
        await persistence.get_item(uuid.uuid4())


async def test_items_at_lists_one_place_oldest_first(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player()
    made = [await persistence.create_item(p, InInventory(player.id)) for p in ("coin", "razor")]
    await persistence.create_item("lantern", OnFloor("town.street"))

    assert [i.id for i in await persistence.items_at(InInventory(player.id))] == [
        i.id for i in made
    ]
    square = await persistence.items_at(OnFloor("town.square"))
    assert sorted(i.prototype_id for i in square) == ["coin", "coin", "lantern"]
    assert await persistence.items_at(OnFloor("harbour.dock")) == []


async def test_create_items_places_many_at_once(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    async with persistence.unit_of_work() as uow:
        assert await uow.items.create_items(["coin"] * 30, OnFloor("harbour.dock")) == 30
        assert await uow.items.create_items([], OnFloor("harbour.dock")) == 0
        assert await uow.items.count_at(OnFloor("harbour.dock")) == 30
    assert await stored.items(ItemRow.room_id == "harbour.dock") == 30


async def test_create_items_with_one_unknown_prototype_places_none(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    with pytest.raises(ItemNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.items.create_items(["coin", "coin", "elder_sign"], OnFloor("harbour.dock"))
    assert await stored.items(ItemRow.room_id == "harbour.dock") == 0


async def test_move_item_moves_without_checks_and_takes_it_off(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    razor = await persistence.create_item("razor", InInventory(player.id))
    async with persistence.unit_of_work() as uow:
        await uow.items.set_worn(razor.id, player.id, "wield")
    assert (await persistence.get_item(razor.id)).worn_slot == "wield"

    async with persistence.unit_of_work() as uow:
        moved = await uow.items.move_item(razor.id, OnFloor("harbour.dock"))

    assert moved.location == OnFloor("harbour.dock")
    assert await stored.place(razor.id) == OnFloor("harbour.dock")
    assert (await persistence.get_item(razor.id)).worn_slot is None


async def test_move_item_refuses_an_unknown_item(persistence: AsyncPersistenceLayer) -> None:
    with pytest.raises(ItemNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.items.move_item(uuid.uuid4(), OnFloor("harbour.dock"))


async def test_move_all_empties_the_source_into_the_destination(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 4, InInventory(player.id))
        moved = await uow.items.move_all(InInventory(player.id), OnFloor("harbour.dock"))
        nothing = await uow.items.move_all(InInventory(player.id), OnFloor("harbour.dock"))

    assert (moved, nothing) == (4, 0)
    assert await stored.items(ItemRow.owner_player_id == player.id) == 0
    assert await stored.items(ItemRow.room_id == "harbour.dock") == 4


async def test_set_worn_only_works_on_what_the_player_carries(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    wearer, other = await save_player(), await save_player()
    razor = await persistence.create_item("razor", InInventory(wearer.id))

    with pytest.raises(ItemNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.items.set_worn(razor.id, other.id, "wield")
    assert (await persistence.get_item(razor.id)).worn_slot is None

    async with persistence.unit_of_work() as uow:
        await uow.items.set_worn(razor.id, wearer.id, "wield")
    assert (await persistence.get_item(razor.id)).worn_slot == "wield"
    async with persistence.unit_of_work() as uow:
        await uow.items.set_worn(razor.id, wearer.id, None)
    assert (await persistence.get_item(razor.id)).worn_slot is None


async def test_delete_item_removes_a_bag_with_its_container_and_contents(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, make_container: Any
) -> None:
    player = await save_player()
    satchel = await persistence.create_item("satchel", InInventory(player.id))
    bag = await make_container(
        3, kind=ContainerKind.WEARABLE, room_id=None, item_id=satchel.id, owner_player_id=player.id
    )
    inside = await persistence.create_item("coin", InContainer(bag.id))
    bystander = await persistence.create_item("coin", InInventory(player.id))

    async with persistence.unit_of_work() as uow:
        await uow.items.delete_item(satchel.id)

    assert await stored.place(satchel.id) is None
    assert await stored.place(inside.id) is None
    assert await stored.count(ContainerRow, ContainerRow.id == bag.id) == 0
    assert await stored.place(bystander.id) == InInventory(player.id)


async def test_delete_item_refuses_an_unknown_item_and_deletes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    with pytest.raises(ItemNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.items.delete_item(uuid.uuid4())
    assert await stored.items() == SEEDED_ITEMS


async def test_ensure_seeded_claims_a_key_once(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    async with persistence.unit_of_work() as uow:
        assert await uow.items.ensure_seeded("test:key") is True
        assert await uow.items.ensure_seeded("test:key") is False
    async with persistence.unit_of_work() as uow:
        assert await uow.items.ensure_seeded("test:key") is False
    assert await stored.count(WorldSeedRow, WorldSeedRow.key == "test:key") == 1


async def test_get_prototype_serves_known_kinds_and_refuses_unknown_ones(
    persistence: AsyncPersistenceLayer,
) -> None:
    async with persistence.unit_of_work() as uow:
        assert uow.items.get_prototype("satchel").capacity == 3
        with pytest.raises(ItemNotFound):
            uow.items.get_prototype("shoggoth")
