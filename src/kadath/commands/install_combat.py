"""Plugging combat, death, corpses and rest into a built game: services, loop steps, commands."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.commands.base import Command
from kadath.commands.combat import Attack, Consider, Flee, Rest
from kadath.domain.corpse import CorpseRules
from kadath.services.combat import ROUND_SECONDS, CombatService, NpcFlee
from kadath.services.corpses import DECAY_CHECK_SECONDS, CorpseKeeper
from kadath.services.death import DeathService
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop
from kadath.services.lucidity import RestService
from kadath.services.outbound import Outbound
from kadath.services.realm import Realm


@dataclass(frozen=True)
class CombatFeature:
    combat: CombatService
    death: DeathService
    corpses: CorpseKeeper
    commands: list[Command]


def install_combat(
    game: Game,
    loop: GameLoop,
    rules: CorpseRules,
    *,
    npc_flee: NpcFlee | None = None,
    round_seconds: float = ROUND_SECONDS,
) -> CombatFeature:
    """Build combat, death and the corpse keeper from `game`, add their loop steps; returns
    them with the commands. ``npc_flee`` (the NPC brain's) lets a badly hurt NPC run."""
    death, combat = combat_services(game, rules, npc_flee)
    combat.install()
    combat.runs_room = game.zones.runs_room
    # A cluster node: a round's blows are stored zone by zone (a zone the fence refuses
    # refuses only its own); one process keeps one unit of work a round.
    combat.unit_per_zone = game.zones.held is not None
    game.zones.dropped.append(combat.zone_dropped)
    corpses = CorpseKeeper(game.uow, game.messenger, game.clock, rules, reading=game.reading)
    corpses.runs_room = game.zones.runs_room
    rest = RestService(game.world, game.uow, game.messenger, game.clock, combat.in_combat)
    # Both wait on the database, so they run beside the tick rather than inside it.
    loop.add_step("combat-round", combat.run_round, every=round_seconds, detached=True)
    loop.add_step("corpse-decay", corpses.decay_step, every=DECAY_CHECK_SECONDS, detached=True)
    commands: list[Command] = [Attack(combat), Flee(combat), Consider(), Rest(rest)]
    return CombatFeature(combat, death, corpses, commands)


def combat_services(
    game: Game, rules: CorpseRules, npc_flee: NpcFlee | None = None
) -> tuple[DeathService, CombatService]:
    """Death and combat built from ``game``'s collaborators (``combat.install()`` not yet run)."""
    realm = Realm(game.world, game.presence, game.npcs)
    out = Outbound(game.messenger, game.bus)
    death = DeathService(
        realm, out, game.uow, game.rng, game.clock, game.movement, game.rooms, rules
    )
    return death, CombatService(realm, out, game.uow, game.rng, game.movement, death, npc_flee)
