"""Combat rounds with fakes: who strikes first, what each blow does, how fights end."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from combat_fakes import ITEMS, Arena, build_arena, player_named

from kadath.commands.install_combat import combat_services
from kadath.domain.corpse import CorpseRules
from kadath.domain.errors import NotAllowed, NotFound
from kadath.domain.events import (
    CombatEnded,
    ExperienceGained,
    NpcKilled,
    PlayerDied,
    PlayerLoggedOut,
)
from kadath.domain.experience import xp_for_kill
from kadath.domain.item import InContainer, InInventory, ItemInstance
from kadath.domain.npc import NpcState
from kadath.domain.rng import FixedRng
from kadath.domain.world import Direction, NpcKind
from kadath.services.combat import CombatService, NpcFlee
from kadath.services.combat_round import Fighter, Gear, choose_npc_target, gear_from

RULES = CorpseRules(owner_grace_seconds=60, decay_seconds=600)


def setup(rng: FixedRng, npc_flee: NpcFlee | None = None) -> tuple[Arena, CombatService]:
    arena = build_arena(rng, RULES)
    return arena, fight_in(arena, npc_flee)


def fight_in(arena: Arena, npc_flee: NpcFlee | None = None) -> CombatService:
    _, combat = combat_services(arena.game, RULES, npc_flee)
    combat.install()
    return combat


def of_type(arena: Arena, kind: type) -> list[Any]:
    return [e for e in arena.events if isinstance(e, kind)]


async def test_attacking_an_npc_engages_both_sides() -> None:
    rng = FixedRng(ints=[15, 5])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn()

    reply = await combat.attack(alice, "gho")

    assert reply == "You attack the ghoul!"
    assert combat.in_combat(alice.id)
    assert combat.in_combat(ghoul.id)
    assert combat.players_fighting() == {alice.id}
    assert ghoul.state is NpcState.FIGHTING
    assert ghoul.target_id == alice.id
    assert "Alice attacks the ghoul!" in arena.said_in("crypt")
    assert arena.vitals_of(alice)[-1]["in_combat"] is True
    assert rng.exhausted


async def test_a_round_trades_blows_and_a_clawing_npc_costs_lucidity() -> None:
    rng = FixedRng(ints=[15, 5, 3, 2], floats=[0.0, 0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn(lucidity_damage=3)
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    assert ghoul.health == 10 - (3 + 1)  # unarmed 1-3, strength 12 adds one
    assert alice.health == 18
    assert arena.store.players[alice.id].health == 18
    assert alice.lucidity == 77
    assert arena.store.players[alice.id].lucidity == 77
    lines = arena.said_to(alice)
    assert lines.index("You hit the ghoul for 4.") < lines.index("The ghoul strikes you for 2.")
    assert "Alice hits the ghoul for 4." in arena.said_in("crypt")
    assert "The ghoul strikes Alice for 2." in arena.said_in("crypt")
    assert arena.vitals_of(alice)[-1]["health"] == 18
    assert combat.in_combat(alice.id)
    assert rng.exhausted


async def test_the_higher_initiative_strikes_first() -> None:
    rng = FixedRng(ints=[1, 20, 2, 3], floats=[0.0, 0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    arena.spawn()
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    lines = arena.said_to(alice)
    assert lines.index("The ghoul strikes you for 2.") < lines.index("You hit the ghoul for 4.")


async def test_killing_an_npc_pays_experience_leaves_loot_and_announces_the_kill() -> None:
    rng = FixedRng(ints=[15, 5, 3], floats=[0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn(health=4)
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    expected = xp_for_kill(2, 1, 50)
    assert arena.store.players[alice.id].experience == expected == alice.experience
    assert arena.game.npcs.get(ghoul.id) is None
    assert ghoul.state is NpcState.DEAD
    [killed] = of_type(arena, NpcKilled)
    assert (killed.npc_id, killed.killer_id, killed.room_id) == (ghoul.id, alice.id, "crypt")
    [corpse] = arena.store.containers.values()
    assert corpse.owner_player_id is None
    assert corpse.room_id == "crypt"
    assert [i.prototype_id for i in arena.store.at(InContainer(corpse.id))] == ["bone", "bone"]
    assert of_type(arena, ExperienceGained)[0].amount == expected
    assert f"You have slain the ghoul. (+{expected} experience)" in arena.said_to(alice)
    assert not combat.in_combat(alice.id)
    assert arena.vitals_of(alice)[-1]["in_combat"] is False
    await combat.run_round()  # nothing left to fight: no roll is asked for
    assert rng.exhausted


async def test_a_kill_that_levels_up_is_announced_to_the_player_and_the_room() -> None:
    rng = FixedRng(ints=[15, 5, 3], floats=[0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    arena.spawn(health=1, xp_value=150)
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    assert alice.level == 2
    assert "You have reached level 2!" in arena.said_to(alice)
    assert "Alice has reached level 2." in arena.said_in("crypt")


async def test_a_player_killed_in_a_round_leaves_a_corpse_and_respawns() -> None:
    rng = FixedRng(ints=[1, 20, 4], floats=[0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice", health=3))
    razor = arena.store.give(alice, "razor", "wield")
    coin = arena.store.give(alice, "coin")
    ghoul = arena.spawn()
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    assert alice.room_id == "chapel"
    assert alice.health == alice.max_health
    row = arena.store.players[alice.id]
    assert (row.room_id, row.health) == ("chapel", row.max_health)
    [corpse] = arena.store.containers.values()
    assert corpse.name == "the corpse of Alice"
    assert corpse.owner_player_id == alice.id
    inside = {i.id for i in arena.store.at(InContainer(corpse.id))}
    assert inside == {razor.id, coin.id}
    assert arena.store.at(InInventory(alice.id)) == []
    [died] = of_type(arena, PlayerDied)
    assert (died.room_id, died.corpse_id, died.killer) == ("crypt", corpse.id, "the ghoul")
    assert "Alice dies." in arena.said_in("crypt")
    assert any(
        t.startswith("You have died at the hands of the ghoul") for t in arena.said_to(alice)
    )
    assert not combat.in_combat(ghoul.id)
    assert ghoul.state is NpcState.IDLE


async def test_a_lethal_blow_the_database_refused_leaves_the_player_standing() -> None:
    # The ghoul strikes first; the refused death fails the whole round (Alice's swing too).
    rng = FixedRng(ints=[1, 20, 4, 4], floats=[0.0] * 2)
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice", health=3))
    arena.spawn()
    await combat.attack(alice, "ghoul")
    arena.store.failing.add("create_container")

    await combat.run_round()
    assert (alice.health, alice.room_id) == (3, "crypt")  # the blow and the death are one
    assert not arena.store.containers

    await combat.run_round()
    assert alice.room_id == "chapel"
    assert alice.health == alice.max_health
    assert len(arena.store.containers) == 1


async def test_the_wielded_weapon_is_used_and_looked_up_once_per_fight() -> None:
    rng = FixedRng(ints=[15, 5, 5, 5], floats=[0.0, 0.99, 0.0, 0.99])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    arena.store.give(alice, "razor", "wield")
    ghoul = arena.spawn(health=20)
    await combat.attack(alice, "ghoul")

    await combat.run_round()
    await combat.run_round()

    assert ghoul.health == 20 - 2 * (5 + 1)  # razor 2-5, strength adds one
    assert arena.store.item_queries == 1
    assert arena.said_to(alice).count("The ghoul misses you.") == 2


def test_gear_is_the_wielded_weapon_and_the_armour_of_worn_things() -> None:
    owner = InInventory(player_named("Alice").id)
    carried = [
        ItemInstance(uuid.uuid4(), "razor", owner, "wield"),
        ItemInstance(uuid.uuid4(), "coat", owner, "body"),
        ItemInstance(uuid.uuid4(), "coat", owner, None),
    ]
    assert gear_from(carried, ITEMS) == Gear((2, 5), 3)
    assert gear_from(carried[2:], ITEMS) == Gear(None, 0)


def test_an_npc_turns_on_whoever_hurt_it_most() -> None:
    npc = Fighter(uuid.uuid4(), "a ghoul", True, "crypt", 1)
    a, b = (Fighter(uuid.uuid4(), n, False, "crypt", 1) for n in ("Alice", "Bob"))
    rng = FixedRng(choices=[1])
    assert choose_npc_target(npc, a, [a, b], rng) is a  # nobody has hurt it: keep its target
    npc.hurt_by[b.id] = 5
    npc.hurt_by[a.id] = 2
    assert choose_npc_target(npc, a, [a, b], rng) is b
    assert choose_npc_target(npc, None, [], rng) is None
    assert choose_npc_target(Fighter(uuid.uuid4(), "x", True, "crypt", 1), None, [a, b], rng) is b


async def test_in_a_round_the_npc_strikes_the_one_who_hurt_it_most() -> None:
    rng = FixedRng(ints=[20, 1, 15, 1, 3, 1], floats=[0.0, 0.0, 0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    bob = arena.enter(player_named("Bob"))
    arena.spawn(health=20)
    await combat.attack(alice, "ghoul")
    await combat.attack(bob, "ghoul")

    await combat.run_round()

    assert alice.health == 20
    assert bob.health == 19


async def test_a_badly_hurt_npc_flees_through_the_npc_feature_and_the_fight_ends() -> None:
    # It flees once the round is stored: it still swings (and misses) in the round that hurt it.
    rng = FixedRng(ints=[15, 5, 3], floats=[0.0, 0.99])
    arena = build_arena(rng, RULES)
    fled: list[Any] = []

    async def npc_flee(npc: Any) -> bool:
        fled.append(npc)
        arena.game.npcs.move(npc, "hall")
        return True

    combat = fight_in(arena, npc_flee)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn(health=6, flee_below=0.5)
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    assert fled == [ghoul]
    assert ghoul.room_id == "hall"
    assert not combat.in_combat(ghoul.id)
    assert not combat.in_combat(alice.id)
    assert {e.reason for e in of_type(arena, CombatEnded)} >= {"fled"}


async def test_an_npc_that_cannot_get_away_fights_on() -> None:
    rng = FixedRng(ints=[15, 5, 3], floats=[0.0, 0.99])
    arena, combat = setup(rng, npc_flee=lambda npc: False)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn(health=6, flee_below=0.5)
    await combat.attack(alice, "ghoul")

    await combat.run_round()

    assert combat.in_combat(ghoul.id)
    assert combat.in_combat(alice.id)
    assert rng.exhausted


async def test_a_player_who_flees_runs_through_an_exit_and_is_out_of_the_fight() -> None:
    rng = FixedRng(ints=[15, 5], floats=[0.0])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn()
    await combat.attack(alice, "ghoul")

    way = await combat.flee(alice)

    assert way is Direction.WEST
    assert alice.room_id == "chapel"
    assert not combat.in_combat(alice.id)
    assert not combat.in_combat(ghoul.id)
    assert "Alice flees west!" in arena.said_in("crypt")


async def test_a_failed_flight_keeps_the_player_in_the_fight() -> None:
    rng = FixedRng(ints=[15, 5], floats=[0.99])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    arena.spawn()
    await combat.attack(alice, "ghoul")

    with pytest.raises(NotAllowed, match="cannot get away"):
        await combat.flee(alice)

    assert alice.room_id == "crypt"
    assert combat.in_combat(alice.id)


async def test_walking_away_from_a_fight_is_refused() -> None:
    arena, combat = setup(FixedRng(ints=[15, 5]))
    alice = arena.enter(player_named("Alice"))
    arena.spawn()
    await combat.attack(alice, "ghoul")

    with pytest.raises(NotAllowed, match="flee"):
        await arena.game.movement.go(alice, Direction.EAST)

    assert alice.room_id == "crypt"


async def test_being_taken_out_of_the_room_ends_the_fight() -> None:
    arena, combat = setup(FixedRng(ints=[15, 5]))
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn()
    await combat.attack(alice, "ghoul")

    await arena.game.movement.relocate(alice, "hall", leave_text="", arrive_text="")

    assert not combat.in_combat(alice.id)
    assert not combat.in_combat(ghoul.id)
    assert ghoul.state is NpcState.IDLE
    assert ghoul.target_id is None


async def test_logging_out_ends_the_fight() -> None:
    arena, combat = setup(FixedRng(ints=[15, 5]))
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn()
    await combat.attack(alice, "ghoul")
    arena.game.presence.leave(alice.id)

    await arena.game.bus.publish(PlayerLoggedOut(alice.id, "crypt"))

    assert not combat.in_combat(alice.id)
    assert not combat.in_combat(ghoul.id)


async def test_players_fight_each_other_only_where_the_room_allows_it() -> None:
    rng = FixedRng(ints=[15, 5, 3], floats=[0.0, 0.99])
    arena, combat = setup(rng)
    alice = arena.enter(player_named("Alice"))
    bob = arena.enter(player_named("Bob"))
    with pytest.raises(NotAllowed, match="cannot attack other players here"):
        await combat.attack(alice, "bob")

    for p in (alice, bob):
        arena.game.presence.move(p, "arena")
    assert await combat.attack(alice, "bob") == "You attack Bob!"
    assert "Alice attacks you!" in arena.said_to(bob)
    await combat.run_round()

    assert bob.health == 16
    assert arena.store.players[bob.id].health == 16
    assert "Bob misses you." in arena.said_to(alice)
    assert combat.in_combat(bob.id)
    assert rng.exhausted


async def test_attacks_are_refused_where_they_make_no_sense() -> None:
    arena, combat = setup(FixedRng())
    alice = arena.enter(player_named("Alice"))
    arena.spawn(keywords=("grocer",), kind=NpcKind.SHOPKEEPER, name="the grocer")
    with pytest.raises(NotFound):
        await combat.attack(alice, "nobody")
    with pytest.raises(NotAllowed, match="yourself"):
        await combat.attack(alice, "alice")
    with pytest.raises(NotAllowed, match="bring yourself"):
        await combat.attack(alice, "grocer")
    arena.game.presence.move(alice, "chapel")
    arena.spawn("chapel")
    with pytest.raises(NotAllowed, match="place of peace"):
        await combat.attack(alice, "ghoul")
    assert not combat.players_fighting()


async def test_an_aggressive_npc_can_start_a_fight_but_not_in_a_safe_room() -> None:
    arena, combat = setup(FixedRng(ints=[15, 5]))
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn()

    combat.engage_npc(ghoul, alice)

    assert combat.in_combat(alice.id)
    assert combat.in_combat(ghoul.id)
    assert "The ghoul attacks you!" in arena.said_to(alice)
    bob = arena.enter(player_named("Bob", room="chapel"))
    priest = arena.spawn("chapel")
    combat.engage_npc(priest, bob)
    assert not combat.in_combat(bob.id)


async def test_a_round_ends_without_a_blow_the_fights_in_a_zone_this_process_does_not_run() -> None:
    arena, combat = setup(FixedRng(ints=[15, 5]))
    alice = arena.enter(player_named("Alice"))
    ghoul = arena.spawn()
    await combat.attack(alice, "gho")
    combat.runs_room = lambda _room: False  # the zone is held by another process
    health = (alice.health, ghoul.health)

    await combat.run_round()  # the dice would be exhausted if anyone struck

    assert (alice.health, ghoul.health) == health
    assert not combat.in_combat(alice.id)  # the fight ends here: its zone runs elsewhere
    assert {e.reason for e in of_type(arena, CombatEnded)} == {"zone_lost"}


async def test_a_zone_given_up_ends_its_fights_here_storing_nothing() -> None:
    arena, combat = setup(FixedRng(ints=[15, 5, 12, 8]))
    alice = arena.enter(player_named("Alice"))
    arena.spawn()
    bob, carol = (
        arena.enter(player_named("Bob", "arena")),
        arena.enter(player_named("Carol", "arena")),
    )
    await combat.attack(alice, "gho")
    await combat.attack(bob, "carol")

    arena.game.npcs.remove(arena.game.npcs.in_room("crypt")[0].id)  # the spawner's part
    await combat.zone_dropped("town")

    assert not any(combat.in_combat(p.id) for p in (alice, bob, carol))
    assert {e.reason for e in of_type(arena, CombatEnded)} == {"zone_lost"}
