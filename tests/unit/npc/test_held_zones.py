"""Held zones: a process spawns, respawns and moves the NPCs of the zones it holds only; taking
a zone brings its NPCs to life, giving it up removes them silently."""

from __future__ import annotations

from dataclasses import replace

from npc_fakes import build_npc_world, clock_of, make_game, messenger_of

from kadath.domain.events import NpcKilled
from kadath.domain.rng import FixedRng, RandomRng, Rng
from kadath.domain.world import SpawnRule
from kadath.npc.install import install_npcs
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop
from kadath.services.held_zones import HeldZones

LIBRARIAN = SpawnRule("librarian", "town", "town.street", 1, 0.0, required=True)
CRYPT_GHOUL = SpawnRule("ghoul", "yard", "yard.crypt", 1, 0.0, required=True)


def zoned_game(*held: str, rng: Rng | None = None) -> Game:
    game = make_game(build_npc_world((LIBRARIAN, CRYPT_GHOUL)), rng or FixedRng())
    game.zones = HeldZones(game.world, held)
    return game


def zones_of(game: Game) -> list[str]:
    return sorted(game.world.rooms[n.room_id].zone_id for n in game.npcs.all())


def test_one_process_holds_every_zone() -> None:
    game = make_game()
    assert game.zones.held is None
    assert game.zones.holds("yard") and game.zones.runs_room("yard.crypt")


async def test_only_the_held_zones_rules_spawn() -> None:
    game = zoned_game("town")
    feature = install_npcs(game, GameLoop())

    assert feature.spawner.populate() == 1
    assert zones_of(game) == ["town"]
    assert not game.zones.runs_room("yard.crypt") and game.zones.runs_room("town.street")


async def test_taking_a_zone_spawns_its_npcs_and_dropping_it_removes_them_without_a_word() -> None:
    game = zoned_game()
    feature = install_npcs(game, GameLoop())
    assert feature.spawner.populate() == 0

    await game.zones.take("yard")
    assert zones_of(game) == ["yard"]
    await game.zones.take("town")
    assert zones_of(game) == ["town", "yard"]
    before = len(messenger_of(game).sent)

    await game.zones.drop("yard")
    assert zones_of(game) == ["town"]
    assert len(messenger_of(game).sent) == before  # nobody is told: it lives on elsewhere
    assert game.zones.held == frozenset({"town"})


async def test_a_respawn_queued_for_a_zone_given_up_is_forgotten() -> None:
    game = zoned_game("yard")
    feature = install_npcs(game, GameLoop())
    feature.spawner.populate()
    [ghoul] = game.npcs.all()
    await feature.spawner.on_killed(
        NpcKilled(ghoul.id, "ghoul", ghoul.room_id, None, ghoul.spawn_key)
    )
    assert feature.spawner.pending() == 1

    await game.zones.drop("yard")
    clock_of(game).advance(3600)
    assert feature.spawner.pending() == 0
    assert feature.spawner.process_respawns() == 0
    assert game.npcs.all() == []


async def test_the_brain_moves_no_npc_of_a_zone_not_held() -> None:
    game = zoned_game("town", rng=RandomRng(7))
    feature = install_npcs(game, GameLoop())
    ghoul = feature.spawner.spawn("ghoul", "yard.gate")  # an admin's, in a zone held elsewhere
    ghoul.definition = replace(ghoul.definition, wander_chance=1.0, wander_min_interval=0.0)
    clock_of(game).advance(100)

    await feature.brain.step(0.0)
    assert ghoul.room_id == "yard.gate"

    await game.zones.take("yard")  # now it runs here: with certainty it wanders
    await feature.brain.step(0.0)
    assert ghoul.room_id != "yard.gate"
