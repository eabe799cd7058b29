"""Database first, memory after the commit: a blow whose transaction fails leaves the
in-memory player as the database has it, and tells nobody anything."""

from __future__ import annotations

from combat_fakes import Arena, build_arena, player_named

from kadath.commands.install_combat import combat_services
from kadath.domain.corpse import CorpseRules
from kadath.domain.player import Player
from kadath.domain.rng import FixedRng
from kadath.services.combat import CombatService

RULES = CorpseRules(owner_grace_seconds=60, decay_seconds=600)
UNMOORED = "Something in its touch unmoors your thoughts."


def clawing_fight(rounds: int) -> tuple[Arena, CombatService, Player]:
    """Alice against a ghoul whose claws cost lucidity; both hit every round."""
    rng = FixedRng(ints=[15, 5] + [3, 2] * rounds, floats=[0.0, 0.0] * rounds)
    arena = build_arena(rng, RULES)
    _, combat = combat_services(arena.game, RULES)
    combat.install()
    alice = arena.enter(player_named("Alice"))
    arena.spawn(lucidity_damage=3)
    return arena, combat, alice


def as_stored(arena: Arena, player: Player) -> tuple[int, int]:
    row = arena.store.players[player.id]
    return row.health, row.lucidity


async def test_a_blow_whose_transaction_fails_leaves_the_player_as_stored() -> None:
    arena, combat, alice = clawing_fight(rounds=1)
    await combat.attack(alice, "ghoul")
    arena.store.failing.add("update_player_stat_field")  # after the damage, in the same work

    await combat.run_round()  # the blow is logged and lost, never half-applied

    assert as_stored(arena, alice) == (20, 80)
    assert (alice.health, alice.lucidity) == (20, 80)


async def test_a_blow_whose_commit_fails_changes_no_memory_and_tells_nobody() -> None:
    arena, combat, alice = clawing_fight(rounds=2)
    await combat.attack(alice, "ghoul")
    await combat.run_round()  # loads and caches Alice's gear: the next round opens one unit
    assert (alice.health, alice.lucidity) == as_stored(arena, alice) == (18, 77)
    arena.store.failing.add("commit")

    await combat.run_round()  # the blow is logged and lost, never half-applied

    assert as_stored(arena, alice) == (18, 77)
    assert arena.said_to(alice).count(UNMOORED) == 1
    assert (alice.health, alice.lucidity) == (18, 77)


class Always:
    """Every swing lands for its most; initiative ties."""

    def randint(self, a: int, b: int) -> int:
        return b

    def random(self) -> float:
        return 0.0

    def choice(self, seq: list[object]) -> object:
        return seq[0]


async def test_a_round_of_many_blows_commits_once_and_tells_only_after_it() -> None:
    arena = build_arena(Always(), RULES)  # type: ignore[arg-type]
    _, combat = combat_services(arena.game, RULES)
    combat.install()
    fighters = [arena.enter(player_named(n)) for n in ("Alice", "Bob")]
    for player in fighters:
        combat.engage_npc(arena.spawn(lucidity_damage=2), player)
    commits, sent = arena.store.commits, len(arena.messenger.sent)
    arena.store.failing.add("commit")

    await combat.run_round()  # refused: nothing stored, nothing told

    assert arena.store.commits == commits
    assert len(arena.messenger.sent) == sent
    for player in fighters:
        assert as_stored(arena, player) == (player.health, player.lucidity) == (20, 80)
        assert combat.in_combat(player.id)
    arena.store.failing.discard("commit")

    await combat.run_round()

    assert arena.store.commits == commits + 1  # two gear reads, four blows, two drains: one
    for player in fighters:
        assert (player.health, player.lucidity) == as_stored(arena, player)
        assert player.health < 20 and player.lucidity < 80
    assert len(arena.messenger.sent) > sent
