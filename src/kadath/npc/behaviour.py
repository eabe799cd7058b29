"""The NPC brain: one small function per state, run for every NPC once a behaviour tick.

idle      may decide to wander (``wander_chance``, at most once per ``wander_min_interval``)
wandering walks one exit inside the home zone, telling both rooms, then is idle again
fighting  waits for the combat feature to let go, then is idle again
fleeing   (entered through ``flee``, which combat calls) settles back to idle or fighting
Aggressive NPCs engage players who walk in, and players in the rooms they wander into."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

import structlog

from kadath.domain.events import PlayerEnteredRoom
from kadath.domain.npc import NpcInstance, NpcState
from kadath.domain.player import Player
from kadath.domain.world import NpcKind
from kadath.npc import voice
from kadath.npc.state import transition
from kadath.npc.territory import Exit, Territory
from kadath.services.game import Game

log = structlog.get_logger(__name__)


class Combat(Protocol):
    """What the brain needs of the combat service."""

    def in_combat(self, entity_id: uuid.UUID) -> bool: ...

    def engage_npc(self, npc: NpcInstance, player: Player) -> None: ...


class NpcBrain:
    def __init__(self, game: Game, territory: Territory, combat: Combat | None = None) -> None:
        self._game, self._territory = game, territory
        # Set by the composition root once combat is built (combat needs ``flee`` first).
        self.combat = combat
        self.failures = 0
        self._handlers: dict[NpcState, Callable[[NpcInstance, float], None]] = {
            NpcState.IDLE: self.idle,
            NpcState.WANDERING: self.wander,
            NpcState.FIGHTING: self.fight,
            NpcState.FLEEING: self.settle,
            NpcState.DEAD: _rest,
        }

    async def step(self, now: float) -> None:
        """One behaviour tick for every NPC; one NPC's failure is logged and skipped."""
        clock_now = self._game.clock.monotonic()
        runs_room = self._game.zones.runs_room
        for npc in self._game.npcs.all():
            if not runs_room(npc.room_id):
                continue  # a zone given up: its holder runs this NPC's kin
            try:
                self._handlers[npc.state](npc, clock_now)
            except Exception:
                self.failures += 1
                log.exception("npc_behaviour_failed", npc=npc.definition.id, npc_id=str(npc.id))

    def idle(self, npc: NpcInstance, now: float) -> None:
        if self.in_combat(npc):
            transition(npc, NpcState.FIGHTING)
        elif self.can_wander(npc, now) and self._game.rng.random() < npc.definition.wander_chance:
            transition(npc, NpcState.WANDERING)
            self.wander(npc, now)

    def wander(self, npc: NpcInstance, now: float) -> None:
        if self.busy(npc):
            transition(npc, NpcState.FIGHTING)
            return
        exits = self._paths(npc)
        if exits:
            direction, dest = self._game.rng.choice(exits)
            name = voice.capitalised(npc)
            self._move(npc, (direction, dest), f"{name} wanders off {direction.value}.")
        npc.last_moved = now  # a boxed-in NPC waits out its interval too, instead of rerolling
        transition(npc, NpcState.IDLE)
        if exits:
            self._menace(npc)

    def fight(self, npc: NpcInstance, now: float) -> None:
        if not self.in_combat(npc):
            transition(npc, NpcState.IDLE)

    def settle(self, npc: NpcInstance, now: float) -> None:
        transition(npc, NpcState.FIGHTING if self.in_combat(npc) else NpcState.IDLE)

    def flee(self, npc: NpcInstance) -> bool:
        """Combat's ``npc_flee``: run through a random exit of the home zone, if any."""
        exits = self._territory.exits_within(npc.room_id, self._territory.home_of(npc))
        if not npc.alive or not exits or not transition(npc, NpcState.FLEEING):
            return False
        direction, dest = self._game.rng.choice(exits)
        self._move(npc, (direction, dest), f"{voice.capitalised(npc)} flees {direction.value}!")
        npc.last_moved = self._game.clock.monotonic()
        return True

    def can_wander(self, npc: NpcInstance, now: float) -> bool:
        d = npc.definition
        return d.wander_chance > 0 and now - npc.last_moved >= d.wander_min_interval

    def in_combat(self, npc: NpcInstance) -> bool:
        return self.combat is not None and self.combat.in_combat(npc.id)

    def busy(self, npc: NpcInstance) -> bool:
        return npc.state is NpcState.FIGHTING or self.in_combat(npc)

    async def on_player_entered(self, event: PlayerEnteredRoom) -> None:
        """Aggressive NPCs in the room the player walked into attack them."""
        player = self._game.presence.get(event.player_id)
        if player is None or player.is_dead or self._territory.is_safe(event.room_id):
            return
        for npc in self._game.npcs.in_room(event.room_id):
            try:
                if is_hostile(npc) and not self.busy(npc):
                    self.engage(npc, player)
            except Exception:
                self.failures += 1
                log.exception("npc_aggression_failed", npc=npc.definition.id)

    def engage(self, npc: NpcInstance, player: Player) -> None:
        """Start a fight through the combat feature, or only threaten when there is none."""
        combat = self.combat
        if combat is None:
            threat = voice.acts(npc, f"glares at {player.name} with murderous intent.")
            self._game.messenger.to_room(npc.room_id, threat)
            return
        combat.engage_npc(npc, player)
        transition(npc, NpcState.FIGHTING)

    def _menace(self, npc: NpcInstance) -> None:
        if not is_hostile(npc) or self._territory.is_safe(npc.room_id):
            return
        players = [p for p in self._game.presence.in_room(npc.room_id) if not p.is_dead]
        if players:
            self.engage(npc, self._game.rng.choice(players))

    def _paths(self, npc: NpcInstance) -> list[Exit]:
        exits = self._territory.exits_within(npc.room_id, self._territory.home_of(npc))
        if npc.definition.kind is NpcKind.AGGRESSIVE:
            return [e for e in exits if not self._territory.is_safe(e[1])]
        return list(exits)

    def _move(self, npc: NpcInstance, way: Exit, leave_text: str) -> None:
        direction, dest = way
        messenger = self._game.messenger
        messenger.to_room(npc.room_id, voice.left(npc, leave_text))
        self._game.npcs.move(npc, dest)
        arrive = f"{voice.capitalised(npc)} arrives {direction.arrival}."
        messenger.to_room(dest, voice.arrived(npc, arrive))


def is_hostile(npc: NpcInstance) -> bool:
    return npc.alive and npc.definition.kind is NpcKind.AGGRESSIVE


def _rest(npc: NpcInstance, now: float) -> None:
    """The dead do nothing; combat takes them out of the roster."""
