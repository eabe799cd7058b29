"""The NPC brain: wandering inside the home zone, aggression on entry, fleeing, isolation."""

from __future__ import annotations

from npc_fakes import FakeCombat, clock_of, make_game, make_player, room_texts

from kadath.domain.events import PlayerEnteredRoom
from kadath.domain.npc import NpcState
from kadath.domain.rng import FixedRng, RandomRng
from kadath.npc.behaviour import Combat, NpcBrain
from kadath.npc.spawner import NpcSpawner
from kadath.npc.state import can_transition, transition
from kadath.npc.territory import Territory
from kadath.services.game import Game


def brain_and_spawner(game: Game, combat: Combat | None = None) -> tuple[NpcBrain, NpcSpawner]:
    territory = Territory(game.world)
    return NpcBrain(game, territory, combat), NpcSpawner(game, territory)


async def ticks(game: Game, brain: NpcBrain, count: int, seconds: float = 1.0) -> None:
    for _ in range(count):
        clock_of(game).advance(seconds)
        await brain.step(clock_of(game).monotonic())


async def test_a_wanderer_never_leaves_its_home_zone() -> None:
    game = make_game(rng=RandomRng(3))
    brain, spawner = brain_and_spawner(game)
    ghouls = [spawner.spawn("ghoul", "yard.gate") for _ in range(5)]
    visited: set[str] = set()

    for _ in range(200):
        await ticks(game, brain, 1, seconds=11)
        visited.update(g.room_id for g in ghouls)

    assert visited == {"yard.gate", "yard.crypt"}
    assert brain.failures == 0


async def test_a_wanderer_tells_both_rooms() -> None:
    game = make_game(rng=FixedRng(floats=[0.1]))
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")

    await ticks(game, brain, 1, seconds=10)

    assert ghoul.room_id == "yard.crypt"  # the only exit that stays in the yard
    assert ghoul.state is NpcState.IDLE
    assert "A hunched ghoul wanders off down." in room_texts(game, "yard.gate")
    assert "A hunched ghoul arrives from above." in room_texts(game, "yard.crypt")


async def test_wandering_waits_the_minimum_interval() -> None:
    game = make_game(rng=FixedRng(floats=[0.0, 0.0]))
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")

    await ticks(game, brain, 9)
    assert ghoul.room_id == "yard.gate"
    await ticks(game, brain, 1)
    assert ghoul.room_id == "yard.crypt"
    await ticks(game, brain, 9)
    assert ghoul.room_id == "yard.crypt"
    await ticks(game, brain, 1)
    assert ghoul.room_id == "yard.gate"


async def test_a_failed_roll_keeps_the_npc_where_it_is() -> None:
    game = make_game(rng=FixedRng(floats=[0.5]))
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")

    await ticks(game, brain, 1, seconds=10)

    assert ghoul.room_id == "yard.gate"


async def test_no_wandering_while_the_combat_feature_holds_the_npc() -> None:
    game = make_game(rng=FixedRng(floats=[0.0] * 10))
    combat = FakeCombat()
    brain, spawner = brain_and_spawner(game, combat)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    combat.fighting.add(ghoul.id)

    await ticks(game, brain, 3, seconds=20)

    assert ghoul.room_id == "yard.gate"
    assert ghoul.state is NpcState.FIGHTING


async def test_no_wandering_in_the_fighting_state() -> None:
    game = make_game(rng=FixedRng(floats=[0.0] * 10))
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    ghoul.state = NpcState.FIGHTING
    clock_of(game).advance(60)

    brain.wander(ghoul, clock_of(game).monotonic())  # even if asked directly
    assert brain.busy(ghoul)
    await brain.step(clock_of(game).monotonic())  # this tick only notices the fight is over

    assert ghoul.room_id == "yard.gate"


async def test_a_fighting_state_without_a_fight_settles_to_idle() -> None:
    game = make_game(rng=FixedRng())
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    ghoul.state = NpcState.FIGHTING
    ghoul.last_moved = clock_of(game).monotonic() + 1000  # no wander roll this tick

    await ticks(game, brain, 1)

    assert ghoul.state is NpcState.IDLE
    assert ghoul.room_id == "yard.gate"


async def test_an_aggressive_npc_engages_a_player_who_walks_in() -> None:
    game = make_game()
    combat = FakeCombat()
    brain, spawner = brain_and_spawner(game, combat)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    librarian = spawner.spawn("librarian", "yard.gate")
    player = make_player("yard.gate")
    game.presence.enter(player)

    await brain.on_player_entered(PlayerEnteredRoom(player.id, "yard.gate", "town.street"))

    assert combat.engaged == [(ghoul, player)]
    assert ghoul.state is NpcState.FIGHTING
    assert librarian.state is NpcState.IDLE


async def test_without_combat_an_aggressive_npc_only_threatens() -> None:
    game = make_game()
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    player = make_player("yard.gate")
    game.presence.enter(player)

    await brain.on_player_entered(PlayerEnteredRoom(player.id, "yard.gate", None))

    assert "A hunched ghoul glares at Carter with murderous intent." in room_texts(
        game, "yard.gate"
    )
    assert ghoul.state is NpcState.IDLE


async def test_no_one_is_attacked_in_a_safe_room() -> None:
    game = make_game()
    combat = FakeCombat()
    brain, spawner = brain_and_spawner(game, combat)
    spawner.spawn("rat", "town.square")
    player = make_player("town.square")
    game.presence.enter(player)

    await brain.on_player_entered(PlayerEnteredRoom(player.id, "town.square", None))

    assert combat.engaged == []


async def test_an_aggressive_wanderer_attacks_the_players_it_finds() -> None:
    game = make_game(rng=FixedRng(floats=[0.0]))
    combat = FakeCombat()
    brain, spawner = brain_and_spawner(game, combat)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    player = make_player("yard.crypt")
    game.presence.enter(player)

    await ticks(game, brain, 1, seconds=10)

    assert combat.engaged == [(ghoul, player)]


async def test_flee_runs_through_an_exit_of_the_home_zone() -> None:
    game = make_game()
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    ghoul.state = NpcState.FIGHTING

    assert brain.flee(ghoul) is True

    assert ghoul.room_id == "yard.crypt"
    assert ghoul.state is NpcState.FLEEING
    assert "A hunched ghoul flees down!" in room_texts(game, "yard.gate")
    await ticks(game, brain, 1)
    assert ghoul.state is NpcState.IDLE


def test_flee_fails_when_no_exit_stays_in_the_zone() -> None:
    game = make_game()
    brain, spawner = brain_and_spawner(game)
    librarian = spawner.spawn("librarian", "yard.crypt")  # home is the town: no way there

    assert brain.flee(librarian) is False
    assert librarian.room_id == "yard.crypt"


def test_the_dead_neither_flee_nor_come_back_to_life() -> None:
    game = make_game()
    brain, spawner = brain_and_spawner(game)
    ghoul = spawner.spawn("ghoul", "yard.gate")
    transition(ghoul, NpcState.DEAD)

    assert brain.flee(ghoul) is False
    assert not can_transition(ghoul, NpcState.IDLE)
    assert transition(ghoul, NpcState.WANDERING) is False
    assert ghoul.state is NpcState.DEAD


async def test_one_failing_npc_does_not_stop_the_others() -> None:
    game = make_game(rng=RandomRng(5))
    combat = FakeCombat()
    brain, spawner = brain_and_spawner(game, combat)
    broken = spawner.spawn("rat", "town.alley")
    others = [spawner.spawn("rat", "town.alley") for _ in range(3)]
    combat.broken.add(broken.id)

    await ticks(game, brain, 1)

    assert brain.failures == 1
    assert broken.room_id == "town.alley"
    assert all(rat.room_id == "town.street" for rat in others)


async def test_behaviour_never_opens_a_unit_of_work() -> None:
    game = make_game(rng=RandomRng(9))
    brain, spawner = brain_and_spawner(game)
    for room in ("yard.gate", "town.alley", "town.street"):
        spawner.spawn("rat", room)
        spawner.spawn("ghoul", room)
    game.presence.enter(make_player("town.street"))

    await ticks(game, brain, 30, seconds=5)

    assert brain.failures == 0
