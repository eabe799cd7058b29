"""Combat commands as transcripts: the line typed, the reply, what changed."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from combat_fakes import Arena, build_arena, player_named

from kadath.commands.base import Dispatcher, Reply
from kadath.commands.install_combat import install_combat
from kadath.commands.table import build_command_table
from kadath.domain.corpse import CorpseRules
from kadath.domain.errors import NotAllowed
from kadath.domain.item import Container, ContainerKind
from kadath.domain.player import Player
from kadath.domain.rng import FixedRng
from kadath.services.held_zones import HeldZones

RULES = CorpseRules(owner_grace_seconds=60, decay_seconds=600)


def wire(rng: FixedRng) -> tuple[Arena, Dispatcher]:
    arena = build_arena(rng, RULES)
    fights = install_combat(arena.game, arena.loop, RULES)
    arena.corpse_guard = fights.corpses.guard
    return arena, Dispatcher(build_command_table(*fights.commands), arena.game)


async def typed(dispatcher: Dispatcher, player: Player, line: str) -> Reply:
    return await dispatcher.dispatch(player, line)


async def test_attack_then_the_loop_runs_the_round() -> None:
    rng = FixedRng(ints=[15, 5, 3], floats=[0.0])
    arena, dispatcher = wire(rng)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn(health=4)

    assert (await typed(dispatcher, alice, "k ghoul")).text == "You attack the ghoul!"
    assert (await typed(dispatcher, alice, "kill ghoul")).text == (
        "You are already fighting the ghoul!"
    )
    await arena.loop.tick(1000.0)
    await arena.loop.settle()  # the round runs beside the tick

    assert arena.game.npcs.get(ghoul.id) is None
    assert alice.experience == 50
    assert "You hit the ghoul for 4." in arena.said_to(alice)


async def test_attack_needs_a_target_and_flee_needs_a_fight() -> None:
    arena, dispatcher = wire(FixedRng())
    alice = arena.enter(player_named("Alice"))

    assert (await typed(dispatcher, alice, "attack")).text == "Usage: attack <target>"
    assert (await typed(dispatcher, alice, "flee")).text == "You are not fighting anyone."
    assert (await typed(dispatcher, alice, "attack rat")).text == "You see no 'rat' here."


async def test_flee_reports_the_way_out_and_shows_the_new_room() -> None:
    arena, dispatcher = wire(FixedRng(ints=[15, 5], floats=[0.0]))
    alice = arena.enter(player_named("Alice"))
    arena.spawn()
    await typed(dispatcher, alice, "attack ghoul")

    reply = await typed(dispatcher, alice, "flee")

    assert reply.text == "You flee west!"
    assert alice.room_id == "chapel"
    frames = [f for kind, who, f in arena.messenger.sent if who == alice.id]
    assert frames[-1]["type"] in {"room", "state"}
    assert any(f["type"] == "room" and f["room"]["id"] == "chapel" for f in frames)


@pytest.mark.parametrize(
    ("level", "verdict"),
    [
        (1, "The ghoul looks like an even match."),
        (5, "The ghoul would be no match for you."),
        (4, "The ghoul looks like an easy fight."),
    ],
)
async def test_consider_weighs_the_odds(level: int, verdict: str) -> None:
    arena, dispatcher = wire(FixedRng())
    alice = arena.enter(player_named("Alice", level=level))
    arena.spawn()
    assert (await typed(dispatcher, alice, "consider ghoul")).text == verdict
    assert (await typed(dispatcher, alice, "con")).text == "Usage: consider <target>"


async def test_rest_in_a_safe_room_restores_lucidity_with_a_cooldown() -> None:
    arena, dispatcher = wire(FixedRng())
    alice = arena.enter(player_named("Alice", room="chapel", lucidity=80))

    first = await typed(dispatcher, alice, "rest")
    assert first.ok
    assert first.text.endswith("(+5 lucidity, now 85)")
    assert arena.store.players[alice.id].lucidity == 85
    again = await typed(dispatcher, alice, "rest")
    assert not again.ok
    assert "only just rested" in again.text

    arena.clock.advance(31)
    assert (await typed(dispatcher, alice, "rest")).ok
    assert alice.lucidity == 90
    assert arena.vitals_of(alice)[-1]["lucidity"] == 90


async def test_rest_is_refused_outside_safe_rooms_in_a_fight_and_at_full_lucidity() -> None:
    arena, dispatcher = wire(FixedRng(ints=[15, 5]))
    alice = arena.enter(player_named("Alice", lucidity=50))
    assert (await typed(dispatcher, alice, "rest")).text == "You cannot rest here."
    arena.spawn()
    await typed(dispatcher, alice, "attack ghoul")
    assert (await typed(dispatcher, alice, "rest")).text == (
        "You cannot rest while you are fighting!"
    )
    bob = arena.enter(player_named("Bob", room="chapel", lucidity=100))
    assert (await typed(dispatcher, bob, "rest")).text == (
        "Your mind is as clear as it will ever be."
    )
    assert arena.store.players[alice.id].lucidity == 50


def corpse_of(owner: Player | None, arena: Arena) -> Container:
    now = arena.clock.now()
    return Container(
        id=uuid.uuid4(),
        kind=ContainerKind.CORPSE,
        name="the corpse of Alice",
        capacity=1,
        room_id="crypt",
        owner_player_id=owner.id if owner else None,
        decays_at=now + timedelta(seconds=RULES.decay_seconds),
        metadata={"died_at": now.isoformat()},
    )


async def test_the_corpse_guard_keeps_strangers_out_until_the_grace_ends() -> None:
    arena, _ = wire(FixedRng())
    guard = arena.corpse_guard
    alice, bob = player_named("Alice"), player_named("Bob")
    corpse = corpse_of(alice, arena)

    guard(alice, corpse)
    with pytest.raises(NotAllowed, match="not yours to loot yet"):
        guard(bob, corpse)
    arena.clock.advance(RULES.owner_grace_seconds - 1)
    with pytest.raises(NotAllowed):
        guard(bob, corpse)
    arena.clock.advance(1)
    guard(bob, corpse)


async def test_npc_corpses_and_other_containers_are_anyones() -> None:
    arena, _ = wire(FixedRng())
    guard = arena.corpse_guard
    bob = player_named("Bob")
    guard(bob, corpse_of(None, arena))
    chest = corpse_of(player_named("Alice"), arena)
    guard(bob, replace(chest, kind=ContainerKind.ENVIRONMENT))


@pytest.mark.parametrize("held", [None, ()])
def test_a_cluster_node_stores_a_round_zone_by_zone_and_one_process_whole(
    held: tuple[str, ...] | None,
) -> None:
    arena = build_arena(FixedRng(), RULES)
    arena.game.zones = HeldZones(arena.game.world, held)  # None: one process; (): a cluster node

    fights = install_combat(arena.game, arena.loop, RULES)

    assert fights.combat.unit_per_zone == (held is not None)
