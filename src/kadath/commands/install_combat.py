"""Plugging combat, death, corpses and rest into a built game: services, loop steps, commands."""

from __future__ import annotations

from kadath.commands.base import Command
from kadath.commands.combat import Attack, Consider, Flee, Rest
from kadath.domain.corpse import CorpseRules
from kadath.services.combat import ROUND_SECONDS, CombatService
from kadath.services.corpses import DECAY_CHECK_SECONDS, CorpseKeeper
from kadath.services.death import DeathService
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop
from kadath.services.lucidity import RestService


def install_combat(
    game: Game, loop: GameLoop, rules: CorpseRules, *, round_seconds: float = ROUND_SECONDS
) -> list[Command]:
    """Register the combat features on `game`, add their loop steps; returns the commands.

    Features: ``combat`` (CombatService: engage_npc, in_combat, players_fighting,
    gear_changed), ``corpse_guard`` (fn(player, container), raises NotAllowed) and ``death``
    (DeathService: player_died, npc_died)."""
    death = DeathService(game, rules)
    combat = CombatService(game, death)
    combat.install()
    corpses = CorpseKeeper(game.uow, game.messenger, game.clock, rules, reading=game.reading)
    rest = RestService(game.world, game.uow, game.messenger, game.clock, combat.in_combat)
    game.features["combat"] = combat
    game.features["death"] = death
    game.features["corpse_guard"] = corpses.guard
    # Both wait on the database, so they run beside the tick rather than inside it.
    loop.add_step("combat-round", combat.run_round, every=round_seconds, detached=True)
    loop.add_step("corpse-decay", corpses.decay_step, every=DECAY_CHECK_SECONDS, detached=True)
    return [Attack(combat), Flee(combat), Consider(), Rest(rest)]
