"""The shipped world's spawn rules, run through the spawner and a few behaviour ticks."""

from __future__ import annotations

from collections import Counter

from npc_fakes import clock_of, make_game

from kadath.domain.rng import RandomRng
from kadath.domain.world import World
from kadath.npc.install import install_npcs
from kadath.services.game_loop import GameLoop
from kadath.world import DEFAULT_WORLD_DIR, load_world


def shipped_world() -> World:
    return load_world(DEFAULT_WORLD_DIR)


async def test_the_shipped_world_fills_within_its_rules_and_npcs_stay_home() -> None:
    world = shipped_world()
    game = make_game(world, RandomRng(11))
    loop = GameLoop()
    spawner = install_npcs(game, loop).spawner
    clock = clock_of(game)

    for _ in range(200):  # ten minutes of ticks, three seconds apart
        clock.advance(3.0)
        await loop.tick(clock.monotonic())

    alive = Counter(n.spawn_key for n in game.npcs.all())
    for key, rule in spawner.rules.items():
        assert alive[key] <= rule.max_population
        if rule.required:
            assert alive[key] == rule.max_population, key
    for npc in game.npcs.all():
        home = npc.definition.home_zone
        if home is not None:
            assert world.rooms[npc.room_id].zone_id == home, npc.definition.id
    failures = _step_failures(loop)
    assert failures.keys() >= {"npc-populate", "npc-respawn", "npc-behaviour", "npc-emote"}
    assert set(failures.values()) == {0.0}


def _step_failures(loop: GameLoop) -> dict[str, float]:
    return {
        sample.labels["step"]: sample.value
        for family in loop.metrics()
        if family.name == "kadath_tick_step_failures"
        for sample in family.samples
    }
