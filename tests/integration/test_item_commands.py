"""Item commands as transcripts: a line typed through the real dispatcher on a real database,
the reply, and what the others in the room see."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from kadath.commands.base import Dispatcher, Reply
from kadath.commands.install_items import install_items
from kadath.commands.table import build_command_table
from kadath.domain.item import ContainerKind, InContainer, InInventory, OnFloor
from kadath.domain.player import Player
from kadath.domain.rng import RandomRng
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ItemRow
from kadath.services.chat import ChatService
from kadath.services.clock import FakeClock
from kadath.services.events import LocalEventBus
from kadath.services.game import Game
from kadath.services.messenger import FakeMessenger
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber

SQUARE = "town.square"
STREET = "town.street"  # an empty floor, so the order things lie in is the order placed


class Session:
    """A game on the test database with everyone's frames recorded."""

    def __init__(self, persistence: AsyncPersistenceLayer, account: Any, make_player: Any) -> None:
        self.persistence, self._account, self._make_player = persistence, account, make_player
        self.messenger = FakeMessenger()
        world, presence, npcs = persistence.world, Presence(), NpcRoster()
        bus, rng, uow = LocalEventBus(), RandomRng(7), persistence.unit_of_work
        self.game = Game(
            world=world,
            presence=presence,
            npcs=npcs,
            messenger=self.messenger,
            bus=bus,
            clock=FakeClock(),
            rng=rng,
            uow=uow,
            reading=persistence.reading,
            rooms=RoomDescriber(world, presence, npcs, uow, rng),
            movement=MovementService(world, presence, self.messenger, bus, uow),
            chat=ChatService(presence, self.messenger, bus),
        )
        persistence.room_listeners[:] = [self.game.rooms.forget]
        items = install_items(self.game)
        table = build_command_table(*items.commands, examine=items.inventory.examine)
        self.dispatcher = Dispatcher(table, self.game)

    async def enter(self, name: str, room_id: str = SQUARE) -> Player:
        player: Player = self._make_player(self._account, name=name, room_id=room_id)
        await self.persistence.save_player(player)
        self.game.presence.enter(player)
        return player

    async def type(self, player: Player, line: str) -> Reply:
        return await self.dispatcher.dispatch(player, line)

    def seen_by(self, player: Player) -> list[str]:
        """Room messages that reached ``player`` (sent to their room, not excluding them)."""
        return [
            str(frame["text"])
            for kind, audience, frame in self.messenger.sent
            if kind == "room"
            and isinstance(audience, tuple)
            and audience[0] == player.room_id
            and player.id not in audience[1]
        ]

    async def give(self, player: Player, *prototypes: str) -> list[uuid.UUID]:
        async with self.persistence.unit_of_work() as uow:
            made = [await uow.items.create_item(p, InInventory(player.id)) for p in prototypes]
        return [i.id for i in made]

    async def drop_on_floor(self, room_id: str, *prototypes: str) -> list[uuid.UUID]:
        """Place items one by one, so they lie (and are listed) in this order."""
        made = []
        for prototype in prototypes:
            async with self.persistence.unit_of_work() as uow:
                made.append((await uow.items.create_item(prototype, OnFloor(room_id))).id)
        return made

    async def crate(self, *prototypes: str, capacity: int = 10, opened: bool = True) -> uuid.UUID:
        async with self.persistence.unit_of_work() as uow:
            crate = await uow.containers.create_container(
                kind=ContainerKind.ENVIRONMENT,
                name="a wooden crate",
                capacity=capacity,
                room_id=SQUARE,
                metadata={"keywords": ["crate"], "description": "Slats.", "open": opened},
            )
            await uow.items.create_items(list(prototypes), InContainer(crate.id))
        return crate.id

    async def chest_id(self) -> uuid.UUID:
        async with self.persistence.unit_of_work() as uow:
            chest = await uow.containers.get_container_by_world_key("town.square.chest")
        assert chest is not None
        return chest.id


@pytest.fixture
async def session(persistence: AsyncPersistenceLayer, account: Any, make_player: Any) -> Session:
    return Session(persistence, account, make_player)


# -- getting and dropping ------------------------------------------------------------------


async def test_get_then_drop_a_lantern_and_the_room_sees_both(
    session: Session, stored: Any
) -> None:
    alice, bob = await session.enter("Alice"), await session.enter("Bob")
    [lantern] = [i.id for i in await stored_floor(session) if i.prototype_id == "lantern"]

    reply = await session.type(alice, "get lantern")

    assert (reply.ok, reply.text) == (True, "You pick up a brass lantern.")
    assert session.seen_by(bob) == ["Alice picks up a brass lantern."]
    assert await stored.place(lantern) == InInventory(alice.id)

    reply = await session.type(alice, "drop lamp")

    assert (reply.ok, reply.text) == (False, "You are not carrying 'lamp'.")
    reply = await session.type(alice, "drop lantern")
    assert (reply.ok, reply.text) == (True, "You drop a brass lantern.")
    assert session.seen_by(bob)[-1] == "Alice drops a brass lantern."
    assert await stored.place(lantern) == OnFloor(SQUARE)


async def test_get_all_folds_the_names_and_the_second_coin_can_be_named(
    session: Session, stored: Any
) -> None:
    alice, bob = await session.enter("Alice", STREET), await session.enter("Bob", STREET)
    coins = await session.drop_on_floor(STREET, "coin", "lantern", "coin", "coin")
    coins.pop(1)

    assert (await session.type(alice, "take 2.coin")).text == "You pick up a silver coin."
    assert await stored.place(coins[1]) == InInventory(alice.id)
    assert await stored.place(coins[0]) == OnFloor(STREET)

    reply = await session.type(alice, "get all")

    assert reply.text == "You pick up a silver coin (×two) and a brass lantern."
    assert session.seen_by(bob)[-1] == ("Alice picks up a silver coin (×two) and a brass lantern.")
    assert (await session.type(alice, "get all")).text == "There is nothing here to take."
    reply = await session.type(alice, "drop all.coin")
    assert reply.text == "You drop a silver coin (×three)."
    assert set((await stored.places(coins)).values()) == {OnFloor(STREET)}
    assert await stored.items(ItemRow.owner_player_id == alice.id) == 1


async def test_a_command_without_its_object_answers_with_its_usage(session: Session) -> None:
    alice = await session.enter("Alice")

    for line, usage in [
        ("get", "get <item>|all [from <container>]"),
        ("get coin from", "get <item>|all [from <container>]"),
        ("put coin", "put <item>|all in <container>"),
        ("drop", "drop <item>|all"),
        ("wear", "wear <item>"),
        ("unlock", "unlock <container>"),
        ("examine", "examine <thing>"),
    ]:
        reply = await session.type(alice, line)
        assert (reply.ok, reply.text) == (False, f"Usage: {usage}"), line


# -- inventory, wearing, examining ---------------------------------------------------------


async def test_inventory_lists_hands_worn_slots_and_the_worn_bags_contents(
    session: Session,
) -> None:
    alice = await session.enter("Alice")
    await session.give(alice, "satchel", "coin", "coin", "lantern", "razor")

    assert (await session.type(alice, "wear satchel")).text == (
        "You wear a leather satchel on your waist."
    )
    assert (await session.type(alice, "wield razor")).text == "You wield a straight razor."
    assert (await session.type(alice, "put coin in satchel")).text == (
        "You put a silver coin in your leather satchel."
    )

    reply = await session.type(alice, "i")

    assert reply.text == "\n".join(
        [
            "You are carrying (2/20 slots):",
            "  a silver coin",
            "  a brass lantern",
            "You are wearing:",
            "  <waist>   a leather satchel",
            "  <wield>   a straight razor",
            "In your leather satchel (1/3): a silver coin.",
        ]
    )


async def test_one_thing_per_slot_and_wield_takes_only_weapons(session: Session) -> None:
    alice, bob = await session.enter("Alice"), await session.enter("Bob")
    await session.give(alice, "razor", "razor", "lantern")

    assert (await session.type(alice, "wield lantern")).text == "You cannot wield a brass lantern."
    assert (await session.type(alice, "wear lantern")).text == "You cannot wear a brass lantern."
    assert (await session.type(alice, "wear razor")).ok
    assert session.seen_by(bob) == ["Alice wields a straight razor."]

    reply = await session.type(alice, "wield razor")

    assert (reply.ok, reply.text) == (False, "You are already wielding a straight razor.")
    assert (await session.type(alice, "remove razor")).text == "You take off a straight razor."
    assert (await session.type(alice, "remove razor")).text == "You are not wearing 'razor'."


async def test_look_at_and_examine_describe_items_and_containers(session: Session) -> None:
    alice = await session.enter("Alice")
    await session.give(alice, "satchel")

    assert (await session.type(alice, "look at satchel")).text == "\n".join(
        ["A leather satchel", "Cracked leather.", "It is empty (it holds 3)."]
    )
    assert (await session.type(alice, "x lantern")).text == "A brass lantern\nDented brass."
    assert (await session.type(alice, "examine chest")).text == (
        "An iron chest\nHeavy.\nIt is closed and locked."
    )
    reply = await session.type(alice, "look at gargoyle")
    assert (reply.ok, reply.text) == (False, "You see no 'gargoyle' here.")


# -- containers: lids and locks ------------------------------------------------------------


async def test_a_locked_chest_refuses_until_unlocked_with_the_right_key(
    session: Session, stored: Any
) -> None:
    alice, bob = await session.enter("Alice"), await session.enter("Bob")
    chest = await session.chest_id()
    [razor] = [i.id for i in await session.persistence.items_at(InContainer(chest))]

    for line, answer in [
        ("get razor from chest", "An iron chest is locked."),
        ("look in chest", "An iron chest is locked."),
        ("open chest", "An iron chest is locked."),
        ("unlock chest", "You do not have the key to an iron chest."),
    ]:
        reply = await session.type(alice, line)
        assert (reply.ok, reply.text) == (False, answer), line
    await session.give(alice, "coin")  # a key of the wrong kind is no better
    assert (await session.type(alice, "unlock chest")).ok is False

    await session.give(alice, "brass_key")
    assert (await session.type(alice, "unlock chest")).text == (
        "You unlock an iron chest with a brass key."
    )
    reply = await session.type(alice, "get razor from chest")
    assert (reply.ok, reply.text) == (False, "An iron chest is closed.")
    assert (await session.type(alice, "open chest")).text == (
        "You open an iron chest.\nIn an iron chest (1/3): a straight razor."
    )
    assert (await session.type(alice, "get razor from chest")).text == (
        "You take a straight razor from an iron chest."
    )

    assert await stored.place(razor) == InInventory(alice.id)
    assert session.seen_by(bob) == [
        "Alice unlocks an iron chest.",
        "Alice opens an iron chest.",
        "Alice takes a straight razor from an iron chest.",
    ]


async def test_lock_needs_the_lid_closed_and_the_key(session: Session) -> None:
    alice = await session.enter("Alice")
    await session.give(alice, "brass_key")
    await session.type(alice, "unlock chest")
    await session.type(alice, "open chest")

    assert (await session.type(alice, "lock chest")).text == "You must close an iron chest first."
    assert (await session.type(alice, "close chest")).text == "You close an iron chest."
    assert (await session.type(alice, "close chest")).text == "An iron chest is already closed."
    assert (
        await session.type(alice, "lock chest")
    ).text == "You lock an iron chest with a brass key."
    assert (await session.type(alice, "look in chest")).text == "An iron chest is locked."


async def test_a_closed_crate_refuses_get_and_put_until_opened(session: Session) -> None:
    alice = await session.enter("Alice")
    await session.crate("lantern", opened=False)
    await session.give(alice, "coin")

    assert (await session.type(alice, "get lantern from crate")).text == (
        "A wooden crate is closed."
    )
    assert (await session.type(alice, "put coin in crate")).text == "A wooden crate is closed."
    await session.type(alice, "open crate")
    assert (await session.type(alice, "put coin into crate")).text == (
        "You put a silver coin in a wooden crate."
    )
    assert (await session.type(alice, "look in crate")).text == (
        "In a wooden crate (2/10): a brass lantern and a silver coin."
    )


# -- bags that travel ----------------------------------------------------------------------


async def test_a_dropped_satchel_keeps_its_contents_for_whoever_picks_it_up(
    session: Session, stored: Any
) -> None:
    alice, bob = await session.enter("Alice"), await session.enter("Bob")
    satchel, coin, key = await session.give(alice, "satchel", "coin", "brass_key")
    await session.type(alice, "wear satchel")
    await session.type(alice, "put coin in satchel")
    await session.type(alice, "put key in satchel")

    assert (await session.type(alice, "drop satchel")).text == (
        "You take off and drop a leather satchel."
    )
    assert (await session.type(bob, "get satchel")).text == "You pick up a leather satchel."
    assert (await session.type(bob, "look in satchel")).text == (
        "In a leather satchel (2/3): a silver coin and a brass key."
    )
    assert (await session.type(bob, "get all from satchel")).text == (
        "You take a silver coin and a brass key from a leather satchel."
    )

    assert await stored.place(satchel) == InInventory(bob.id)
    assert await stored.places([coin, key]) == {coin: InInventory(bob.id), key: InInventory(bob.id)}


# -- racing --------------------------------------------------------------------------------


async def test_two_players_typing_get_lantern_at_once_only_one_gets_it(
    session: Session, stored: Any
) -> None:
    alice, bob = await session.enter("Alice"), await session.enter("Bob")
    [lantern] = [i.id for i in await stored_floor(session) if i.prototype_id == "lantern"]

    replies = await asyncio.gather(
        session.type(alice, "get lantern"), session.type(bob, "get lantern")
    )

    assert sorted(r.ok for r in replies) == [False, True]
    winner, loser = (alice, replies[1]) if replies[0].ok else (bob, replies[0])
    assert loser.text in {"A brass lantern is no longer there.", "You see no 'lantern' here."}
    assert await stored.place(lantern) == InInventory(winner.id)


async def test_a_crowd_looting_one_crate_at_once_leaves_every_item_in_one_place(
    session: Session, stored: Any
) -> None:
    crowd = [await session.enter(f"Looter{chr(97 + n)}") for n in range(8)]
    crate = await session.crate(*["coin"] * 6, *["lantern"] * 4)
    loot = [i.id for i in await session.persistence.items_at(InContainer(crate))]

    replies = await asyncio.gather(*(session.type(p, "get all from crate") for p in crowd))

    places = await stored.places(loot)
    assert set(places) == set(loot)
    owners = Counter(places.values())
    assert sum(owners.values()) == 10
    assert set(owners) <= {InInventory(p.id) for p in crowd}
    for player, reply in zip(crowd, replies, strict=True):
        got = owners[InInventory(player.id)]
        assert reply.ok == (got > 0), reply.text
    assert await session.persistence.items_at(InContainer(crate)) == []


async def stored_floor(session: Session) -> list[Any]:
    return await session.persistence.items_at(OnFloor(SQUARE))


ODD_ORDINALS = ("².coin", "٣.coin", "0.coin", "-1.coin", "99999999999999999999.coin")
ORDINAL_VERBS = (
    "get",
    "drop",
    "wear",
    "wield",
    "remove",
    "examine",
    "look",
    "open",
    "close",
    "lock",
    "unlock",
    "put",
    "get coin from",
    "put coin in",
)


@pytest.mark.parametrize("ordinal", ODD_ORDINALS)
async def test_odd_ordinals_are_answered_with_a_sentence_by_every_item_command(
    session: Session, ordinal: str
) -> None:
    alice = await session.enter("Alice")
    await session.give(alice, "coin", "coin")
    for verb in ORDINAL_VERBS:
        reply = await session.type(alice, f"{verb} {ordinal}")
        assert not reply.ok, (verb, reply.text)
        assert "went wrong" not in reply.text, (verb, reply.text)
        assert reply.text.endswith((".", "?", ">")), (verb, reply.text)


async def test_get_all_cut_short_by_an_outage_tells_what_was_taken(
    session: Session, faults: Any
) -> None:
    alice = await session.enter("Alice", STREET)
    await session.drop_on_floor(STREET, "coin", "lantern", "coin")
    carried_before = 0
    for fail_at in range(1, 60):
        faults.arm(0)
        async with session.persistence.unit_of_work() as uow:
            await uow.items.move_all(InInventory(alice.id), OnFloor(STREET))
        faults.arm(fail_at)
        reply = await session.type(alice, "get all")
        interrupted = faults.failed
        faults.arm(0)
        carried = len(await session.persistence.items_at(InInventory(alice.id)))
        if not interrupted:
            assert carried == 3, reply
            break
        if carried == 0:
            assert not reply.ok  # nothing moved: the plain outage sentence
            continue
        # Some items moved before the database went away: the reply says which ones.
        carried_before = carried
        assert reply.ok, reply
        assert reply.text.startswith("You pick up"), reply.text
        assert "The world wavers; the rest stays where it is" in reply.text
    assert carried_before > 0  # the sweep really did cut a get all short


async def test_drop_all_cut_short_by_an_outage_tells_what_was_dropped(
    session: Session, faults: Any
) -> None:
    alice = await session.enter("Alice", STREET)
    await session.give(alice, "coin", "lantern", "coin")
    cut_short = 0
    for fail_at in range(1, 60):
        faults.arm(0)
        async with session.persistence.unit_of_work() as uow:
            await uow.items.move_all(OnFloor(STREET), InInventory(alice.id))
        faults.arm(fail_at)
        reply = await session.type(alice, "drop all")
        interrupted = faults.failed
        faults.arm(0)
        dropped = len(await session.persistence.items_at(OnFloor(STREET)))
        if not interrupted:
            assert dropped == 3, reply
            break
        if dropped == 0:
            assert not reply.ok
            continue
        cut_short += 1
        assert reply.ok, reply
        assert reply.text.startswith("You drop"), reply.text
        assert "The world wavers; the rest stays where it is" in reply.text
    assert cut_short > 0
