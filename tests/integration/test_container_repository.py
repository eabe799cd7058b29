"""ContainerRepository: containers, and transfer_item's compare-and-set under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kadath.domain.errors import (
    ContainerFull,
    ContainerLocked,
    ContainerNotFound,
    InvalidAmount,
    ItemMoved,
    ItemNotFound,
    KadathError,
    NotAllowed,
    NotOwner,
    PlayerNotFound,
)
from kadath.domain.item import ContainerKind, InContainer, InInventory, OnFloor
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ItemRow

DOCK = OnFloor("harbour.dock")


async def _outcome(call: Any) -> str:
    """Run one transfer; the name of its result (``ok``) or of the refusal it raised."""
    try:
        await call
    except KadathError as exc:
        return type(exc).__name__
    return "ok"


# -- containers ---------------------------------------------------------------------------


async def test_a_container_reads_back_with_every_field(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any, save_player: Any
) -> None:
    owner = await save_player()
    decay = datetime(2032, 1, 1, tzinfo=UTC)
    made = await make_container(
        7,
        name="a corpse",
        kind=ContainerKind.CORPSE,
        locked=True,
        room_id="harbour.dock",
        owner_player_id=owner.id,
        key_prototype_id="brass_key",
        decays_at=decay,
        metadata={"victim": "Gug"},
    )

    loaded = await persistence.get_container(made.id)

    assert loaded == made
    assert (loaded.kind, loaded.name, loaded.capacity, loaded.locked) == (
        ContainerKind.CORPSE,
        "a corpse",
        7,
        True,
    )
    assert (loaded.owner_player_id, loaded.key_prototype_id) == (owner.id, "brass_key")
    assert (loaded.decays_at, loaded.metadata) == (decay, {"victim": "Gug"})
    assert await stored.containers() == 2  # and the seeded chest


@pytest.mark.parametrize("capacity", [-1, True, 2.5, "3", None])
async def test_a_bad_capacity_is_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any, capacity: Any
) -> None:
    with pytest.raises(InvalidAmount):
        await make_container(capacity)
    assert await stored.containers() == 1


async def test_get_container_refuses_an_unknown_id(persistence: AsyncPersistenceLayer) -> None:
    with pytest.raises(ContainerNotFound):
        await persistence.get_container(uuid.uuid4())


async def test_containers_are_found_by_room_owner_item_and_world_key(
    persistence: AsyncPersistenceLayer, make_container: Any, save_player: Any, chest: Any
) -> None:
    owner = await save_player()
    satchel = await persistence.create_item("satchel", InInventory(owner.id))
    bag = await make_container(
        3, kind=ContainerKind.WEARABLE, room_id=None, owner_player_id=owner.id, item_id=satchel.id
    )
    crate = await make_container(4, room_id="town.square")

    assert [c.id for c in await persistence.get_containers_in_room("town.square")] == [
        chest.id,
        crate.id,
    ]
    assert await persistence.get_containers_in_room("harbour.dock") == []
    async with persistence.unit_of_work() as uow:
        assert [c.id for c in await uow.containers.get_containers_by_owner(owner.id)] == [bag.id]
        assert (await uow.containers.get_container_by_item(satchel.id)).id == bag.id
        assert await uow.containers.get_container_by_item(uuid.uuid4()) is None
        assert await uow.containers.get_container_by_world_key("no.such") is None
    assert chest.world_key == "town.square.chest"


async def test_update_container_changes_lock_metadata_and_room(
    persistence: AsyncPersistenceLayer, make_container: Any
) -> None:
    crate = await make_container(3)
    async with persistence.unit_of_work() as uow:
        await uow.containers.update_container(
            crate.id, locked=True, metadata={"note": "sealed"}, room_id="harbour.dock"
        )
    loaded = await persistence.get_container(crate.id)
    assert (loaded.locked, loaded.metadata, loaded.room_id) == (
        True,
        {"note": "sealed"},
        "harbour.dock",
    )

    async with persistence.unit_of_work() as uow:
        await uow.containers.update_container(crate.id, locked=False)
    loaded = await persistence.get_container(crate.id)
    assert (loaded.locked, loaded.metadata, loaded.room_id) == (
        False,
        {"note": "sealed"},
        "harbour.dock",
    )
    with pytest.raises(ContainerNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.containers.update_container(uuid.uuid4(), locked=True)


async def test_delete_container_removes_it_and_its_contents(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any
) -> None:
    crate = await make_container(3)
    coin = await persistence.create_item("coin", InContainer(crate.id))
    elsewhere = await persistence.create_item("coin", DOCK)

    async with persistence.unit_of_work() as uow:
        await uow.containers.delete_container(crate.id)

    assert await stored.place(coin.id) is None
    assert await stored.place(elsewhere.id) == DOCK
    with pytest.raises(ContainerNotFound):
        await persistence.get_container(crate.id)
    with pytest.raises(ContainerNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.containers.delete_container(crate.id)


async def test_list_decayed_returns_only_containers_past_their_time(
    persistence: AsyncPersistenceLayer, make_container: Any
) -> None:
    now = datetime.now(UTC)
    old = await make_container(1, decays_at=now - timedelta(minutes=10))
    just = await make_container(1, decays_at=now - timedelta(seconds=1))
    await make_container(1, decays_at=now + timedelta(minutes=5))
    await make_container(1)

    async with persistence.unit_of_work() as uow:
        decayed = await uow.containers.list_decayed(now)

    assert [c.id for c in decayed] == [old.id, just.id]


async def test_contents_lists_what_is_inside(
    persistence: AsyncPersistenceLayer, make_container: Any, chest: Any
) -> None:
    crate = await make_container(5)
    inside = [await persistence.create_item("coin", InContainer(crate.id)) for _ in range(2)]

    assert [i.id for i in await persistence.container_contents(crate.id)] == [i.id for i in inside]
    assert [i.prototype_id for i in await persistence.container_contents(chest.id)] == ["razor"]
    assert await persistence.container_contents(uuid.uuid4()) == []


# -- transfer_item: single calls ----------------------------------------------------------


async def test_an_item_moves_from_the_floor_into_an_inventory(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    coin = await persistence.create_item("coin", DOCK)

    moved = await persistence.transfer_item(coin.id, DOCK, InInventory(player.id))

    assert moved.location == InInventory(player.id)
    assert await stored.place(coin.id) == InInventory(player.id)


async def test_a_transfer_from_the_wrong_place_raises_item_moved_and_changes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    coin = await persistence.create_item("coin", OnFloor("town.street"))

    with pytest.raises(ItemMoved):
        await persistence.transfer_item(coin.id, DOCK, InInventory(player.id))

    assert await stored.place(coin.id) == OnFloor("town.street")


async def test_an_unknown_item_is_refused(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    with pytest.raises(ItemNotFound):
        await persistence.transfer_item(uuid.uuid4(), DOCK, InInventory(player.id))
    assert await stored.items(ItemRow.owner_player_id == player.id) == 0


async def test_moving_an_item_to_where_it_is_is_not_allowed(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    coin = await persistence.create_item("coin", DOCK)
    with pytest.raises(NotAllowed):
        await persistence.transfer_item(coin.id, DOCK, OnFloor("harbour.dock"))
    assert await stored.place(coin.id) == DOCK


async def test_a_locked_container_refuses_taking_out(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, chest: Any
) -> None:
    player = await save_player()
    (razor,) = await persistence.container_contents(chest.id)

    with pytest.raises(ContainerLocked, match="An iron chest is locked"):
        await persistence.transfer_item(razor.id, InContainer(chest.id), InInventory(player.id))

    assert await stored.place(razor.id) == InContainer(chest.id)


async def test_a_locked_container_refuses_putting_in(
    persistence: AsyncPersistenceLayer, stored: Any, chest: Any
) -> None:
    coin = await persistence.create_item("coin", DOCK)
    with pytest.raises(ContainerLocked):
        await persistence.transfer_item(coin.id, DOCK, InContainer(chest.id))
    assert await stored.place(coin.id) == DOCK
    assert await stored.items(ItemRow.container_id == chest.id) == 1


async def test_an_unlocked_chest_gives_up_its_contents(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, chest: Any
) -> None:
    player = await save_player()
    (razor,) = await persistence.container_contents(chest.id)
    async with persistence.unit_of_work() as uow:
        await uow.containers.update_container(chest.id, locked=False)

    await persistence.transfer_item(razor.id, InContainer(chest.id), InInventory(player.id))

    assert await stored.place(razor.id) == InInventory(player.id)


async def test_a_full_container_refuses_another_item(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any
) -> None:
    crate = await make_container(2)
    for _ in range(2):
        coin = await persistence.create_item("coin", DOCK)
        await persistence.transfer_item(coin.id, DOCK, InContainer(crate.id))
    extra = await persistence.create_item("lantern", DOCK)

    with pytest.raises(ContainerFull, match="A wooden crate is full"):
        await persistence.transfer_item(extra.id, DOCK, InContainer(crate.id))

    assert await stored.place(extra.id) == DOCK
    assert await stored.items(ItemRow.container_id == crate.id) == 2


async def test_a_zero_capacity_container_holds_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any
) -> None:
    shelf = await make_container(0)
    coin = await persistence.create_item("coin", DOCK)
    with pytest.raises(ContainerFull):
        await persistence.transfer_item(coin.id, DOCK, InContainer(shelf.id))
    assert await stored.place(coin.id) == DOCK


async def test_a_full_inventory_refuses_another_item(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 3, InInventory(player.id))
    coin = await persistence.create_item("coin", DOCK)

    with pytest.raises(ContainerFull):
        await persistence.transfer_item(coin.id, DOCK, InInventory(player.id), carry_capacity=3)
    assert await stored.place(coin.id) == DOCK

    await persistence.transfer_item(coin.id, DOCK, InInventory(player.id), carry_capacity=4)
    assert await stored.place(coin.id) == InInventory(player.id)


async def test_the_default_carry_capacity_is_twenty(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 20, InInventory(player.id))
    coin = await persistence.create_item("coin", DOCK)
    with pytest.raises(ContainerFull):
        await persistence.transfer_item(coin.id, DOCK, InInventory(player.id))
    assert await stored.items(ItemRow.owner_player_id == player.id) == 20


async def test_taking_from_another_players_inventory_is_refused(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    owner, thief = await save_player(), await save_player()
    coin = await persistence.create_item("coin", InInventory(owner.id))

    with pytest.raises(NotOwner):
        await persistence.transfer_item(
            coin.id, InInventory(owner.id), InInventory(thief.id), actor_id=thief.id
        )
    assert await stored.place(coin.id) == InInventory(owner.id)

    await persistence.transfer_item(coin.id, InInventory(owner.id), DOCK, actor_id=owner.id)
    assert await stored.place(coin.id) == DOCK


async def test_a_worn_item_is_taken_off_when_it_moves(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player()
    razor = await persistence.create_item("razor", InInventory(player.id))
    async with persistence.unit_of_work() as uow:
        await uow.items.set_worn(razor.id, player.id, "wield")

    moved = await persistence.transfer_item(razor.id, InInventory(player.id), DOCK)

    assert moved.worn_slot is None
    assert (await persistence.get_item(razor.id)).worn_slot is None


async def test_a_bag_cannot_go_inside_itself(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any
) -> None:
    satchel = await persistence.create_item("satchel", DOCK)
    bag = await make_container(3, kind=ContainerKind.WEARABLE, item_id=satchel.id)

    with pytest.raises(NotAllowed):
        await persistence.transfer_item(satchel.id, DOCK, InContainer(bag.id))
    assert await stored.place(satchel.id) == DOCK


async def test_unknown_destinations_and_sources_are_refused(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    coin = await persistence.create_item("coin", DOCK)
    with pytest.raises(ContainerNotFound):
        await persistence.transfer_item(coin.id, DOCK, InContainer(uuid.uuid4()))
    with pytest.raises(PlayerNotFound):
        await persistence.transfer_item(coin.id, DOCK, InInventory(uuid.uuid4()))
    with pytest.raises(ContainerNotFound):
        await persistence.transfer_item(coin.id, InContainer(uuid.uuid4()), OnFloor("x"))
    assert await stored.place(coin.id) == DOCK


# -- transfer_item: races -----------------------------------------------------------------


async def test_two_players_grabbing_one_item_exactly_one_gets_it(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    alice, bob = await save_player(), await save_player()
    for _ in range(5):  # a few rounds, so a lucky interleaving cannot hide a race
        coin = await persistence.create_item("coin", DOCK)

        outcomes = await asyncio.gather(
            _outcome(persistence.transfer_item(coin.id, DOCK, InInventory(alice.id))),
            _outcome(persistence.transfer_item(coin.id, DOCK, InInventory(bob.id))),
        )

        assert sorted(outcomes) == ["ItemMoved", "ok"]
        winner = alice if outcomes[0] == "ok" else bob
        assert await stored.place(coin.id) == InInventory(winner.id)
        assert await stored.items(ItemRow.id == coin.id) == 1


async def test_two_units_of_work_grabbing_one_item_exactly_one_commits(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    alice, bob = await save_player(), await save_player()
    coin = await persistence.create_item("coin", DOCK)

    async def grab(player: Any) -> str:
        async with persistence.unit_of_work() as uow:
            return await _outcome(
                uow.containers.transfer_item(coin.id, DOCK, InInventory(player.id))
            )

    outcomes = await asyncio.gather(grab(alice), grab(bob))

    assert sorted(outcomes) == ["ItemMoved", "ok"]
    owners = [p for p in (alice, bob) if await stored.items(ItemRow.owner_player_id == p.id)]
    assert len(owners) == 1
    assert await stored.place(coin.id) == InInventory(owners[0].id)


async def test_twenty_players_racing_for_five_items_each_item_ends_in_one_inventory(
    persistence: AsyncPersistenceLayer, stored: Any, account: Any, make_player: Any
) -> None:
    players = [make_player(account) for _ in range(20)]
    await persistence.save_players(players)
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 5, DOCK)
    items = [i.id for i in await persistence.items_at(DOCK)]

    calls = [(item, p) for p in players for item in items]
    outcomes = await asyncio.gather(
        *(_outcome(persistence.transfer_item(i, DOCK, InInventory(p.id))) for i, p in calls)
    )

    assert Counter(outcomes) == {"ok": 5, "ItemMoved": 95}
    winners = {i: p.id for (i, p), o in zip(calls, outcomes, strict=True) if o == "ok"}
    assert set(winners) == set(items)
    places = await stored.places(items)
    assert places == {i: InInventory(winners[i]) for i in items}
    assert await stored.items(ItemRow.room_id == "harbour.dock") == 0
    assert await stored.items(ItemRow.owner_player_id.is_not(None)) == 5


async def test_many_items_racing_into_three_free_slots_exactly_three_fit(
    persistence: AsyncPersistenceLayer, stored: Any, make_container: Any
) -> None:
    crate = await make_container(5)
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 2, InContainer(crate.id))
        await uow.items.create_items(["lantern"] * 15, DOCK)
    loose = [i.id for i in await persistence.items_at(DOCK)]

    outcomes = await asyncio.gather(
        *(_outcome(persistence.transfer_item(i, DOCK, InContainer(crate.id))) for i in loose)
    )

    assert Counter(outcomes) == {"ok": 3, "ContainerFull": 12}
    assert await stored.items(ItemRow.container_id == crate.id) == 5
    assert await stored.items(ItemRow.room_id == "harbour.dock") == 12
    places = await stored.places(loose)
    for item, outcome in zip(loose, outcomes, strict=True):
        assert places[item] == (InContainer(crate.id) if outcome == "ok" else DOCK)


async def test_many_items_racing_into_one_inventory_stop_at_its_capacity(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 12, DOCK)
    loose = [i.id for i in await persistence.items_at(DOCK)]

    outcomes = await asyncio.gather(
        *(
            _outcome(persistence.transfer_item(i, DOCK, InInventory(player.id), carry_capacity=4))
            for i in loose
        )
    )

    assert Counter(outcomes) == {"ok": 4, "ContainerFull": 8}
    assert await stored.items(ItemRow.owner_player_id == player.id) == 4
    assert await stored.items(ItemRow.room_id == "harbour.dock") == 8
