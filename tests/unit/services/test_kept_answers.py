"""What commands keep between calls (a room's view, ``who``, ``help``, ``explored``, the
sanctions in force) answers exactly as if nothing were kept, after every kind of change:
someone arrives or leaves, an item is dropped or taken, the world is changed by a reload or a
builder, a level is gained, a sanction is applied, lifted or runs out."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from combat_fakes import Arena, build_arena, player_named

from kadath.commands.base import Context, Dispatcher
from kadath.commands.info import Explored, Help, Who
from kadath.commands.table import build_command_table
from kadath.domain.errors import Sanctioned
from kadath.domain.item import ItemInstance, OnFloor
from kadath.domain.moderation import Sanction, SanctionKind
from kadath.domain.player import Player
from kadath.domain.rng import FixedRng
from kadath.domain.world import Direction, HelpTopic, Room, World, Zone
from kadath.services.rooms import RoomDescriber


def wire() -> tuple[Arena, Dispatcher]:
    arena = build_arena(FixedRng())
    return arena, Dispatcher(build_command_table(), arena.game)


async def fresh_view(arena: Arena, viewer: Player) -> tuple[dict[str, Any], str]:
    """The room as a describer that has kept nothing yet sees it."""
    game = arena.game
    describer = RoomDescriber(game.world, game.presence, game.npcs, game.reading, game.rng)
    return await describer.describe(viewer)


async def looked(arena: Arena, dispatcher: Dispatcher, viewer: Player) -> tuple[Any, Any]:
    """What ``look`` shows ``viewer`` (the room frame sent to them)."""
    arena.messenger.sent.clear()
    reply = await dispatcher.dispatch(viewer, "look")
    assert reply.ok, reply.text
    (frame,) = [f for kind, who, f in arena.messenger.sent if who == viewer.id]
    return frame["room"], frame["text"]


async def assert_look_as_fresh(arena: Arena, dispatcher: Dispatcher, *viewers: Player) -> None:
    for viewer in viewers:
        assert await looked(arena, dispatcher, viewer) == await fresh_view(arena, viewer)


def changed_world(world: World, **rooms: Room) -> World:
    """A copy of ``world`` with some rooms replaced or added, as a reload or a builder makes."""
    copy = world.copy()
    copy.rooms.update(rooms)
    return copy


def refreshed(arena: Arena, world: World) -> None:
    """What a reload and a builder's change do: adopt, then refresh the views."""
    arena.game.world.adopt(world)
    arena.game.rooms.forget_all()


async def test_a_room_view_follows_arrivals_departures_and_moves() -> None:
    arena, dispatcher = wire()
    alice = arena.enter(player_named("Alice"))
    await assert_look_as_fresh(arena, dispatcher, alice)

    bob = arena.enter(player_named("Bob"))
    await assert_look_as_fresh(arena, dispatcher, alice, bob)
    assert (await looked(arena, dispatcher, alice))[0]["players"] == ["Bob"]

    arena.game.presence.move(bob, "hall")
    await assert_look_as_fresh(arena, dispatcher, alice, bob)
    assert (await looked(arena, dispatcher, alice))[0]["players"] == []

    carol = arena.enter(player_named("Carol", room="hall"))
    await assert_look_as_fresh(arena, dispatcher, bob, carol)
    assert (await looked(arena, dispatcher, bob))[0]["players"] == ["Carol"]

    arena.game.presence.leave(carol.id)
    await assert_look_as_fresh(arena, dispatcher, bob)
    assert (await looked(arena, dispatcher, bob))[0]["players"] == []

    arena.game.presence.move(bob, "crypt")
    await assert_look_as_fresh(arena, dispatcher, alice, bob)
    assert (await looked(arena, dispatcher, bob))[0]["players"] == ["Alice"]


async def test_a_room_view_follows_npcs_coming_and_dying() -> None:
    arena, dispatcher = wire()
    alice = arena.enter(player_named("Alice"))
    await assert_look_as_fresh(arena, dispatcher, alice)
    ghoul = arena.spawn()
    await assert_look_as_fresh(arena, dispatcher, alice)
    ghoul.health = 0
    await assert_look_as_fresh(arena, dispatcher, alice)
    arena.game.npcs.remove(ghoul.id)
    await assert_look_as_fresh(arena, dispatcher, alice)


async def test_a_room_view_follows_items_dropped_and_taken() -> None:
    arena, dispatcher = wire()
    alice = arena.enter(player_named("Alice"))
    await assert_look_as_fresh(arena, dispatcher, alice)

    coins = [ItemInstance(uuid.uuid4(), "coin", OnFloor("crypt")) for _ in range(2)]
    for coin in coins:
        arena.store.items[coin.id] = coin
    arena.game.rooms.forget({"crypt"})  # what a committed drop does
    await assert_look_as_fresh(arena, dispatcher, alice)
    assert "You see a silver coin (×two)." in (await looked(arena, dispatcher, alice))[1]

    del arena.store.items[coins[0].id]
    arena.game.rooms.forget({"crypt"})  # what a committed take does
    await assert_look_as_fresh(arena, dispatcher, alice)
    assert "You see a silver coin." in (await looked(arena, dispatcher, alice))[1]

    del arena.store.items[coins[1].id]
    arena.game.rooms.forget({"crypt"})
    await assert_look_as_fresh(arena, dispatcher, alice)
    assert "You see" not in (await looked(arena, dispatcher, alice))[1]


async def test_a_room_view_follows_a_reload_and_a_builder() -> None:
    arena, dispatcher = wire()
    alice = arena.enter(player_named("Alice"))
    await assert_look_as_fresh(arena, dispatcher, alice)
    crypt = arena.game.world.rooms["crypt"]

    # A builder describes the room again and digs a new exit from it.
    built = replace(
        crypt,
        name="The Crypt",
        description="Cold stone.",
        exits={**crypt.exits, Direction.NORTH: "cell"},
        flags=frozenset({"dark", "quiet"}),
    )
    refreshed(arena, changed_world(arena.game.world, crypt=built))
    await assert_look_as_fresh(arena, dispatcher, alice)
    view, text = await looked(arena, dispatcher, alice)
    assert (view["name"], view["description"], view["flags"]) == (
        "The Crypt",
        "Cold stone.",
        ["dark", "quiet"],
    )
    assert "north" in view["exits"] and "Exits: west, east, north." in text

    # A reload that moves the room to another zone.
    reloaded = changed_world(arena.game.world, crypt=replace(built, zone_id="deep"))
    reloaded.zones["deep"] = Zone("deep", "The Deep", "")
    refreshed(arena, reloaded)
    await assert_look_as_fresh(arena, dispatcher, alice)
    assert (await looked(arena, dispatcher, alice))[0]["zone"] == "The Deep"


async def test_who_follows_arrivals_departures_moves_and_levels() -> None:
    arena, dispatcher = wire()
    game = arena.game
    game.world.zones["deep"] = Zone("deep", "The Deep", "")
    game.world.rooms["pit"] = Room("pit", "deep", "Pit", "Down.", exits={})
    alice = arena.enter(player_named("Alice"))

    async def check() -> str:
        kept = (await dispatcher.dispatch(alice, "who")).text
        assert kept == await Who().run(Context(alice, "", game))  # a Who that kept nothing
        return kept

    assert "1 in the world" in await check()
    bob = arena.enter(player_named("Bob"))
    assert "2 in the world" in await check()
    game.presence.move(bob, "pit")
    assert "The Deep" in await check()
    bob.level = 7
    assert "level 7" in await check()
    game.presence.leave(bob.id)
    assert "Bob" not in await check()
    refreshed(arena, changed_world(game.world, crypt=replace(game.world.rooms["crypt"])))
    game.world.zones["town"] = Zone("town", "Old Town", "")
    refreshed(arena, game.world.copy())
    assert "Old Town" in await check()


async def test_help_and_explored_follow_the_world() -> None:
    arena, dispatcher = wire()
    game = arena.game
    alice = arena.enter(player_named("Alice"))
    game.presence.explored(alice.id).clear()
    table = build_command_table()

    async def check() -> tuple[str, str]:
        helped = (await dispatcher.dispatch(alice, "help")).text
        assert helped == await Help(table).run(Context(alice, "", game))
        explored = (await dispatcher.dispatch(alice, "explored")).text
        assert explored == await Explored().run(Context(alice, "", game))
        look_help = (await dispatcher.dispatch(alice, "help look")).text
        assert look_help == (await Dispatcher(table, game).dispatch(alice, "help look")).text
        return helped, explored

    await check()
    game.presence.explored(alice.id).add("crypt")
    assert "1/5 rooms" in (await check())[1]

    world = changed_world(game.world, well=Room("well", "town", "Well", "Deep.", exits={}))
    world.help["lanterns"] = HelpTopic("lanterns", "Lanterns", "Keep them lit.")
    refreshed(arena, world)
    helped, explored = await check()
    assert "lanterns" in helped and "1/6 rooms" in explored

    world = game.world.copy()
    del world.rooms["well"]
    world.help.clear()
    world.zones["deep"] = Zone("deep", "The Deep", "")
    world.rooms["pit"] = Room("pit", "deep", "Pit", "Down.", exits={})
    refreshed(arena, world)
    helped, explored = await check()
    assert "lanterns" not in helped and "The Deep" in explored


def sanction(account_id: uuid.UUID, kind: SanctionKind, arena: Arena, **fields: Any) -> Sanction:
    now = arena.clock.now()
    return Sanction(uuid.uuid4(), account_id, kind, "test", now, **fields)


async def test_sanctions_are_checked_as_applied_lifted_and_run_out() -> None:
    arena, dispatcher = wire()
    game = arena.game
    alice, bob = arena.enter(player_named("Alice")), arena.enter(player_named("Bob"))
    book = game.sanctions

    async def refused(player: Player, line: str) -> bool:
        return not (await dispatcher.dispatch(player, line)).ok

    assert not await refused(alice, "say hello")
    book.record(sanction(alice.account_id, SanctionKind.MUTE, arena))
    assert await refused(alice, "say hello")
    assert not await refused(bob, "say hello")
    assert not await refused(alice, "score")  # a mute is no freeze
    book.record(sanction(alice.account_id, SanctionKind.MUTE, arena))  # the same again
    book.lift(alice.account_id, SanctionKind.MUTE)
    assert not await refused(alice, "say hello")
    book.lift(alice.account_id, SanctionKind.MUTE)  # lifted twice: nothing left to count

    book.record(sanction(bob.account_id, SanctionKind.FREEZE, arena, ends_at=arena.clock.now()))
    arena.clock.advance(1)  # it runs out
    assert not await refused(bob, "score")
    book.record(sanction(bob.account_id, SanctionKind.FREEZE, arena))
    assert await refused(bob, "score")
    assert not await refused(alice, "score")
    with pytest.raises(Sanctioned, match="frozen"):
        book.freezes.check(bob.id)
    book.load([sanction(alice.account_id, SanctionKind.FREEZE, arena)])
    assert await refused(alice, "score")
    book.lift(alice.account_id, SanctionKind.FREEZE)
    book.lift(bob.account_id, SanctionKind.FREEZE)
    assert not await refused(alice, "score") and not await refused(bob, "score")
