"""Spawning: start-up fill, max population per rule, required NPCs, respawn after the delay."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from npc_fakes import build_npc_world, clock_of, make_game, room_texts

from kadath.domain.errors import NotFound, RoomNotFound
from kadath.domain.events import NpcKilled
from kadath.domain.npc import NpcState
from kadath.domain.rng import FixedRng, RandomRng
from kadath.domain.world import SpawnRule
from kadath.npc.install import install_npcs
from kadath.npc.spawner import NpcSpawner, spawn_key
from kadath.npc.territory import Territory
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop

LIBRARIAN = SpawnRule("librarian", "town", "town.street", 1, 0.0, required=True)
CRYPT_GHOULS = SpawnRule("ghoul", "yard", "yard.crypt", 2, 0.5)
YARD_GHOUL = SpawnRule("ghoul", "yard", None, 1, 0.5)


def spawner_for(game: Game) -> NpcSpawner:
    return NpcSpawner(game, Territory(game.world))


def by_key(game: Game) -> Counter[str | None]:
    return Counter(n.spawn_key for n in game.npcs.all())


def test_required_npcs_spawn_even_when_their_chance_is_nil() -> None:
    game = make_game(build_npc_world((LIBRARIAN,)), FixedRng())
    spawner = spawner_for(game)

    assert spawner.populate() == 1

    (npc,) = game.npcs.all()
    assert (npc.definition.id, npc.room_id, npc.state) == (
        "librarian",
        "town.street",
        NpcState.IDLE,
    )
    assert npc.health == npc.definition.health


def test_chance_decides_each_missing_slot() -> None:
    game = make_game(build_npc_world((CRYPT_GHOULS,)), FixedRng(floats=[0.9, 0.1]))

    assert spawner_for(game).populate() == 1
    assert [n.room_id for n in game.npcs.all()] == ["yard.crypt"]


def test_repeated_populating_never_exceeds_max_population() -> None:
    game = make_game(build_npc_world((LIBRARIAN, CRYPT_GHOULS, YARD_GHOUL)), RandomRng(1))
    spawner = spawner_for(game)

    for _ in range(50):
        spawner.populate()

    counts = by_key(game)
    assert counts[spawn_key(0, LIBRARIAN)] == 1
    assert counts[spawn_key(1, CRYPT_GHOULS)] == 2
    assert counts[spawn_key(2, YARD_GHOUL)] == 1
    assert len(game.npcs) == 4


def test_two_rules_for_the_same_npc_keep_separate_populations() -> None:
    rules = (CRYPT_GHOULS, YARD_GHOUL)
    assert spawn_key(0, rules[0]) != spawn_key(1, rules[1])
    game = make_game(build_npc_world(rules), FixedRng(floats=[0.0, 0.0, 0.0, 0.0]))
    spawner = spawner_for(game)
    spawner.populate()

    assert game.npcs.count_of("ghoul") == 3
    assert spawner.populate() == 0


def test_a_rule_without_a_room_spawns_somewhere_in_its_zone() -> None:
    game = make_game(build_npc_world((YARD_GHOUL,)), FixedRng(floats=[0.0], choices=[1]))
    spawner_for(game).populate()

    (npc,) = game.npcs.all()
    assert npc.room_id == "yard.gate"


async def test_a_killed_npc_respawns_in_its_rule_room_after_its_delay() -> None:
    game = make_game(build_npc_world((CRYPT_GHOULS,)), FixedRng(floats=[0.0, 0.0]))
    spawner = spawner_for(game)
    spawner.populate()
    victim = game.npcs.all()[0]
    victim.room_id = "yard.gate"  # killed elsewhere; comes back where its rule says

    game.npcs.remove(victim.id)
    event = NpcKilled(victim.id, "ghoul", "yard.gate", uuid.uuid4(), victim.spawn_key)
    await spawner.on_killed(event)
    assert spawner.pending() == 1
    assert spawner.populate() == 0  # the queued respawn holds the slot

    clock_of(game).advance(59)
    assert spawner.process_respawns() == 0
    assert len(game.npcs) == 1

    clock_of(game).advance(1)
    assert spawner.process_respawns() == 1
    assert sorted(n.room_id for n in game.npcs.all()) == ["yard.crypt", "yard.crypt"]
    assert spawner.pending() == 0
    assert "A hunched ghoul appears." in room_texts(game, "yard.crypt")


async def test_an_npc_spawned_by_hand_is_not_respawned() -> None:
    game = make_game(build_npc_world())
    spawner = spawner_for(game)
    npc = spawner.spawn("rat", "town.alley")
    game.npcs.remove(npc.id)

    await spawner.on_killed(NpcKilled(npc.id, "rat", "town.alley", None, None))

    assert spawner.pending() == 0


def test_spawning_an_unknown_npc_or_into_an_unknown_room_is_refused() -> None:
    spawner = spawner_for(make_game())

    with pytest.raises(NotFound, match="no NPC"):
        spawner.spawn("shoggoth", "town.street")
    with pytest.raises(RoomNotFound):
        spawner.spawn("rat", "nowhere.at.all")


def test_despawn_takes_the_npc_out_and_tells_the_room() -> None:
    game = make_game()
    spawner = spawner_for(game)
    npc = spawner.spawn("rat", "town.alley")

    assert spawner.despawn(npc.id) is npc
    assert len(game.npcs) == 0
    assert npc.state is NpcState.DEAD
    assert "A rat fades into the shadows." in room_texts(game, "town.alley")
    assert spawner.despawn(npc.id) is None


async def test_install_fills_the_world_on_the_first_tick_not_before() -> None:
    game = make_game(build_npc_world((LIBRARIAN, CRYPT_GHOULS)), FixedRng(floats=[0.0, 0.0]))
    loop = GameLoop()

    install_npcs(game, loop)
    assert len(game.npcs) == 0

    await loop.tick(clock_of(game).monotonic())
    assert len(game.npcs) == 3


async def test_a_kill_published_on_the_bus_respawns_through_the_loop() -> None:
    game = make_game(build_npc_world((LIBRARIAN,)), FixedRng())
    loop = GameLoop()
    install_npcs(game, loop)
    clock = clock_of(game)
    await loop.tick(clock.monotonic())
    (npc,) = game.npcs.all()

    await game.bus.publish(NpcKilled(npc.id, "librarian", npc.room_id, None, npc.spawn_key))
    assert len(game.npcs) == 0

    clock.advance(59)
    await loop.tick(clock.monotonic())
    assert len(game.npcs) == 0
    clock.advance(2)
    await loop.tick(clock.monotonic())
    assert [n.definition.id for n in game.npcs.all()] == ["librarian"]


async def test_without_spawning_nothing_is_populated() -> None:
    game = make_game(build_npc_world((LIBRARIAN,)), FixedRng())
    loop = GameLoop()
    installed = install_npcs(game, loop, spawning=False)

    await loop.tick(clock_of(game).monotonic())

    assert len(game.npcs) == 0
    assert [c.names[0] for c in installed.commands] == ["spawn", "despawn", "npcs"]


def test_a_reload_that_shifts_the_rules_keeps_each_npc_on_its_rule() -> None:
    game = make_game(build_npc_world((LIBRARIAN, CRYPT_GHOULS)), RandomRng(3))
    spawner = spawner_for(game)
    spawner.populate()
    librarian = next(n for n in game.npcs.all() if n.definition.id == "librarian")
    # A rule inserted before the others renumbers every key; the librarian's rule remains.
    game.world.spawns = (YARD_GHOUL, LIBRARIAN)
    spawner.reload_rules()

    assert librarian.spawn_key == spawn_key(1, LIBRARIAN)
    assert all(n.spawn_key is None for n in game.npcs.all() if n.definition.id == "ghoul")
    assert spawner.populate() <= 1  # only the new yard rule may add one; no second librarian
    assert game.npcs.count_of("librarian") == 1
