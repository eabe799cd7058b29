"""InventoryService and ContainerService on a real database: capacity, bags, corpses, races.

Every claim is checked against what the tables hold afterwards, not only the reply."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import uuid
from collections import Counter
from typing import Any

import pytest

from kadath.domain.errors import ContainerFull, DatabaseUnavailable, DomainError, NotAllowed
from kadath.domain.inventory import BASE_CARRY_SLOTS
from kadath.domain.item import Container, ContainerKind, InContainer, InInventory, OnFloor
from kadath.domain.player import Player
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ItemRow
from kadath.services.carried import CarriedItem, CarriedItems
from kadath.services.containers import ContainerService, CorpseGuard
from kadath.services.inventory import InventoryService
from kadath.services.messenger import FakeMessenger

SQUARE = "town.square"
DOCK = OnFloor("harbour.dock")  # an empty floor


class Items:
    """The two services wired to the test database, and quick ways to place things."""

    def __init__(self, persistence: AsyncPersistenceLayer) -> None:
        self.persistence = persistence
        self.messenger = FakeMessenger()
        self.guards: dict[str, CorpseGuard] = {}
        self.containers = ContainerService(
            persistence.world,
            persistence.unit_of_work,
            self.messenger,
            self._guard,
        )
        self.inventory = InventoryService(
            persistence.world,
            persistence.unit_of_work,
            self.messenger,
            self.containers,
            reading=persistence.reading,
        )

    def _guard(self, player: Player, container: Container) -> None:
        check = self.guards.get("corpse_guard")  # a test turns the guard on and off
        if check is not None:
            check(player, container)

    async def place(self, prototype: str, where: Any, count: int = 1) -> list[uuid.UUID]:
        async with self.persistence.unit_of_work() as uow:
            return [(await uow.items.create_item(prototype, where)).id for _ in range(count)]

    async def box(self, capacity: int, *, kind: ContainerKind, name: str, **meta: Any) -> Container:
        async with self.persistence.unit_of_work() as uow:
            return await uow.containers.create_container(
                kind=kind, name=name, capacity=capacity, room_id=SQUARE, metadata=meta
            )

    async def crate(self, capacity: int = 10) -> Container:
        return await self.box(
            capacity, kind=ContainerKind.ENVIRONMENT, name="a wooden crate", open=True
        )

    async def wearing_satchel(self, player: Player) -> uuid.UUID:
        [satchel] = await self.place("satchel", InInventory(player.id))
        await self.inventory.wear(player, "satchel")
        return satchel

    async def bag_of(self, item_id: uuid.UUID) -> Container:
        async with self.persistence.unit_of_work() as uow:
            bag = await uow.containers.get_container_by_item(item_id)
        assert bag is not None
        return bag


@pytest.fixture
def items(persistence: AsyncPersistenceLayer) -> Items:
    return Items(persistence)


async def _outcome(call: Any) -> str:
    try:
        await call
    except DomainError as exc:
        return type(exc).__name__
    return "ok"


# -- round trips -------------------------------------------------------------------------


async def test_get_drop_and_put_round_trips_move_the_stored_item(
    items: Items, stored: Any, save_player: Any
) -> None:
    alice = await save_player()
    crate = await items.crate()
    [lantern] = [
        i.id
        for i in await items.persistence.items_at(OnFloor(SQUARE))
        if i.prototype_id == "lantern"
    ]

    await items.inventory.get(alice, "lantern")
    assert await stored.place(lantern) == InInventory(alice.id)
    await items.inventory.put(alice, "lantern", "crate")
    assert await stored.place(lantern) == InContainer(crate.id)
    await items.inventory.get(alice, "lantern", "crate")
    assert await stored.place(lantern) == InInventory(alice.id)
    await items.inventory.drop(alice, "lantern")
    assert await stored.place(lantern) == OnFloor(SQUARE)


async def test_wearing_a_bag_creates_its_container_once_linked_to_the_item(
    items: Items, save_player: Any
) -> None:
    alice = await save_player()
    satchel = await items.wearing_satchel(alice)
    await items.inventory.remove(alice, "satchel")
    await items.inventory.wear(alice, "satchel")

    bag = await items.bag_of(satchel)
    assert (bag.kind, bag.capacity, bag.item_id, bag.name) == (
        ContainerKind.WEARABLE,
        3,
        satchel,
        "a leather satchel",
    )
    async with items.persistence.unit_of_work() as uow:
        assert len(await uow.containers.get_containers_by_owner(alice.id)) == 1


# -- capacity ------------------------------------------------------------------------------


async def test_full_hands_fill_the_worn_satchel_then_refuse_and_nothing_moves(
    items: Items, stored: Any, save_player: Any
) -> None:
    alice = await save_player()
    satchel = await items.wearing_satchel(alice)
    await items.place("lantern", InInventory(alice.id), BASE_CARRY_SLOTS)
    bag = await items.bag_of(satchel)

    replies = [await items.inventory.get(alice, word) for word in ("coin", "coin", "lantern")]

    assert replies == [
        "You put a silver coin in your leather satchel.",
        "You put a silver coin in your leather satchel.",
        "You put a brass lantern in your leather satchel.",
    ]
    [razor] = await items.place("razor", OnFloor(SQUARE))
    with pytest.raises(
        ContainerFull, match=r"^Your hands are full, and so is your leather satchel\.$"
    ):
        await items.inventory.get(alice, "razor")
    assert await stored.place(razor) == OnFloor(SQUARE)
    assert await stored.items(ItemRow.owner_player_id == alice.id) == BASE_CARRY_SLOTS + 1
    assert await stored.items(ItemRow.container_id == bag.id) == 3


async def test_get_all_fills_the_hands_then_the_bag_and_reports_what_did_not_fit(
    items: Items, stored: Any, save_player: Any
) -> None:
    alice = await save_player(room_id=DOCK.room_id)
    await items.wearing_satchel(alice)
    await items.place("razor", InInventory(alice.id), BASE_CARRY_SLOTS - 1)
    for prototype in ("lantern", "coin", "coin", "lantern", "coin", "lantern"):
        await items.place(prototype, DOCK)  # one by one: they lie in this order

    reply = await items.inventory.get(alice, "all")

    assert reply.splitlines() == [
        "You pick up a brass lantern.",
        "You put a silver coin (×two) and a brass lantern in your leather satchel.",
        "Your hands are full, and so is your leather satchel.",
    ]
    assert items.messenger.texts_for("room")[-1] == (
        f"{alice.name} picks up a brass lantern (×two) and a silver coin (×two)."
    )
    left = [i.prototype_id for i in await items.persistence.items_at(DOCK)]
    assert left == ["coin", "lantern"]


async def test_taking_out_of_the_worn_bag_with_full_hands_does_not_put_it_back(
    items: Items, stored: Any, save_player: Any
) -> None:
    alice = await save_player()
    satchel = await items.wearing_satchel(alice)
    bag = await items.bag_of(satchel)
    [coin] = await items.place("coin", InContainer(bag.id))
    await items.place("razor", InInventory(alice.id), BASE_CARRY_SLOTS)

    with pytest.raises(ContainerFull, match=r"^Your hands are full\.$"):
        await items.inventory.get(alice, "coin", "satchel")
    assert await stored.place(coin) == InContainer(bag.id)


async def test_remove_is_refused_when_the_hands_are_full(items: Items, save_player: Any) -> None:
    alice = await save_player()
    [razor] = await items.place("razor", InInventory(alice.id))
    await items.inventory.wield(alice, "razor")
    await items.place("coin", InInventory(alice.id), BASE_CARRY_SLOTS)

    with pytest.raises(ContainerFull):
        await items.inventory.remove(alice, "razor")
    async with items.persistence.unit_of_work() as uow:
        assert (await uow.items.get_item(razor)).worn_slot == "wield"


async def test_put_all_stops_when_the_crate_is_full_and_keeps_the_rest(
    items: Items, stored: Any, save_player: Any
) -> None:
    alice = await save_player()
    crate = await items.crate(capacity=2)
    await items.place("coin", InInventory(alice.id), 3)

    reply = await items.inventory.put(alice, "all", "crate")

    assert reply == "You put a silver coin (×two) in a wooden crate.\nA wooden crate is full."
    assert await stored.items(ItemRow.container_id == crate.id) == 2
    assert await stored.items(ItemRow.owner_player_id == alice.id) == 1


# -- corpses -------------------------------------------------------------------------------


async def test_a_corpse_is_looted_only_when_its_guard_allows(
    items: Items, stored: Any, save_player: Any
) -> None:
    alice = await save_player()
    corpse = await items.box(5, kind=ContainerKind.CORPSE, name="the corpse of Bob")
    [coin] = await items.place("coin", InContainer(corpse.id))
    seen: list[tuple[str, uuid.UUID]] = []

    def guard(player: Player, container: Container) -> None:
        seen.append((player.name, container.id))
        raise NotAllowed("Bob's body is still warm; leave it be a while.")

    items.guards["corpse_guard"] = guard
    with pytest.raises(NotAllowed, match="still warm"):
        await items.inventory.get(alice, "all", "corpse")
    assert seen == [(alice.name, corpse.id)]
    assert await stored.place(coin) == InContainer(corpse.id)
    with pytest.raises(NotAllowed, match="into a corpse"):
        await items.inventory.put(alice, "lantern", "corpse")

    del items.guards["corpse_guard"]
    assert await items.inventory.get(alice, "coin", "corpse") == (
        "You take a silver coin from the corpse of Bob."
    )
    assert await stored.place(coin) == InInventory(alice.id)


# -- races ---------------------------------------------------------------------------------


async def test_two_players_getting_one_razor_at_once_exactly_one_has_it(
    items: Items, stored: Any, save_player: Any
) -> None:
    for _ in range(4):  # a few rounds, so a lucky interleaving cannot hide a race
        alice, bob = await save_player(), await save_player()
        [razor] = await items.place("razor", DOCK)
        alice.room_id = bob.room_id = DOCK.room_id

        outcomes = await asyncio.gather(
            _outcome(items.inventory.get(alice, "razor")),
            _outcome(items.inventory.get(bob, "razor")),
        )

        assert sorted(outcomes) in (["ItemMoved", "ok"], ["ItemNotFound", "ok"])
        winner = alice if outcomes[0] == "ok" else bob
        assert await stored.place(razor) == InInventory(winner.id)


async def test_ten_players_putting_into_a_crate_with_room_for_three(
    items: Items, stored: Any, save_player: Any
) -> None:
    crate = await items.crate(capacity=3)
    players = [await save_player() for _ in range(10)]
    for player in players:
        await items.place("coin", InInventory(player.id))

    outcomes = await asyncio.gather(
        *(_outcome(items.inventory.put(p, "coin", "crate")) for p in players)
    )

    assert Counter(outcomes) == {"ok": 3, "ContainerFull": 7}
    assert await stored.items(ItemRow.container_id == crate.id) == 3
    for player, outcome in zip(players, outcomes, strict=True):
        kept = await stored.items(ItemRow.owner_player_id == player.id)
        assert kept == (0 if outcome == "ok" else 1)


async def test_many_players_get_all_from_one_chest_every_item_ends_in_one_place(
    items: Items, stored: Any, save_player: Any
) -> None:
    crate = await items.crate(capacity=30)
    loot = await items.place("coin", InContainer(crate.id), 30)
    players = [await save_player() for _ in range(12)]

    replies = await asyncio.gather(
        *(_reply(items.inventory.get(p, "all", "crate")) for p in players)
    )

    places = await stored.places(loot)
    assert len(places) == 30
    assert set(places.values()) <= {InInventory(p.id) for p in players}
    assert await stored.items(ItemRow.container_id == crate.id) == 0
    assert await stored.items() == 30 + 4  # the loot plus the seeded lantern, coins and razor
    for player, reply in zip(players, replies, strict=True):  # nobody is told of a coin twice
        assert _coins_claimed(reply) == await stored.items(ItemRow.owner_player_id == player.id)


async def _reply(call: Any) -> str:
    try:
        return str(await call)
    except DomainError as exc:
        return str(exc)


def _coins_claimed(reply: str) -> int:
    """How many coins "You take a silver coin (×three) from …" says were taken."""
    if not reply.startswith("You take"):
        return 0
    found = re.search(r"\(×(\w+)\)", reply)
    if found is None:
        return 1
    words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
    return words.get(found.group(1)) or int(found.group(1))


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["loot", "drop"])
async def test_a_failure_at_any_point_of_looting_or_dropping_moves_each_item_whole(
    items: Items, stored: Any, save_player: Any, faults: Any, command: str
) -> None:
    changed: list[set[str]] = []
    items.persistence.room_listeners.append(changed.append)
    try:
        for fail_at in itertools.count(1):
            faults.arm(0)
            alice = await save_player(room_id=SQUARE)
            key = f"corpse{chr(97 + fail_at)}"
            corpse = await items.box(3, kind=ContainerKind.CORPSE, name="a corpse", keywords=[key])
            source = InContainer(corpse.id) if command == "loot" else InInventory(alice.id)
            things = set(await items.place("coin", source, 3))
            changed.clear()
            faults.arm(fail_at)
            with contextlib.suppress(DatabaseUnavailable):
                if command == "loot":
                    await items.inventory.get(alice, "all", key)
                else:
                    await items.inventory.drop(alice, "all")
            interrupted = faults.failed
            faults.arm(0)

            places = await stored.places(list(things))
            assert set(places) == things  # each item whole, in exactly one place
            moved = {i for i, p in places.items() if p != source}
            if command == "drop":  # the room's cached view is dropped once a drop committed
                assert bool(moved) == any(SQUARE in rooms for rooms in changed)
            if not interrupted:
                assert moved == things
                break
    finally:
        items.persistence.room_listeners.remove(changed.append)


# -- as data (GMCP's Char.Items.List) ------------------------------------------------------


async def test_carried_items_lists_held_and_worn_things_as_data(
    items: Items, save_player: Any
) -> None:
    alice = await save_player()
    carried = CarriedItems(items.persistence.world, items.persistence.reading)
    assert await carried.of(alice.id) == []
    satchel = await items.wearing_satchel(alice)
    [coin] = await items.place("coin", InInventory(alice.id))

    listed = sorted(await carried.of(alice.id), key=lambda i: i.name)
    assert listed == [
        CarriedItem(str(satchel), "a leather satchel", "waist", wearable=True, container=True),
        CarriedItem(str(coin), "a silver coin", None, wearable=False, container=False),
    ]
