"""Wiring NPCs into a running game: spawner and brain, event subscriptions, loop steps, commands."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.commands.base import Command
from kadath.domain.events import NpcKilled, PlayerEnteredRoom, PlayerSpoke
from kadath.npc.behaviour import NpcBrain
from kadath.npc.commands import Despawn, Npcs, Spawn
from kadath.npc.dialogue import NpcDialogue
from kadath.npc.spawner import NpcSpawner
from kadath.npc.territory import Territory
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop

POPULATE_EVERY = 30.0
RESPAWN_EVERY = 1.0
BEHAVIOUR_EVERY = 1.0
EMOTE_EVERY = 5.0


@dataclass(frozen=True)
class NpcFeature:
    spawner: NpcSpawner
    brain: NpcBrain
    territory: Territory
    commands: list[Command]


def install_npcs(game: Game, loop: GameLoop, *, spawning: bool = True) -> NpcFeature:
    """Bring the world's NPCs to life; returns the spawner, the brain (give it combat once
    built: ``brain.combat``) and the admin commands to add to the table.

    With ``spawning`` the first tick fills the world (start-up never waits for it), a step
    tops rules up every 30 s, and killed NPCs respawn after their delay. Steps and event
    handlers alike read time from ``game.clock.monotonic()``, so they always agree."""
    territory = Territory(game.world)
    spawner = NpcSpawner(game, territory)
    brain = NpcBrain(game, territory)
    dialogue = NpcDialogue(game)
    game.bus.subscribe(PlayerEnteredRoom, brain.on_player_entered)
    game.bus.subscribe(PlayerEnteredRoom, dialogue.on_player_entered)
    game.bus.subscribe(PlayerSpoke, dialogue.on_player_spoke)
    if spawning:
        game.bus.subscribe(NpcKilled, spawner.on_killed)
        game.zones.taken.append(spawner.zone_taken)
        loop.add_step("npc-populate", spawner.populate_step, every=POPULATE_EVERY)
        loop.add_step("npc-respawn", spawner.respawn_step, every=RESPAWN_EVERY)
    game.zones.dropped.append(spawner.zone_dropped)
    loop.add_step("npc-behaviour", brain.step, every=BEHAVIOUR_EVERY)
    loop.add_step("npc-emote", dialogue.emote_step, every=EMOTE_EVERY)
    loop.add_step("npc-speech", dialogue.flush_step)
    return NpcFeature(spawner, brain, territory, [Spawn(spawner), Despawn(spawner), Npcs(spawner)])
