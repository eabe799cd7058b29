"""Spawning: filling the world per its spawn rules, topping it up, and respawning the dead.

Each spawn rule gets a spawn key; an NPC carries the key of the rule that made it, so a rule's
population is the live NPCs with its key plus the respawns queued for it. Respawns wait in a
heap ordered by due time and are released by a loop step; no task sleeps per NPC."""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field

import structlog

from kadath.domain.errors import NotFound, RoomNotFound
from kadath.domain.events import NpcKilled
from kadath.domain.npc import NpcInstance, NpcState
from kadath.domain.world import SpawnRule
from kadath.npc import voice
from kadath.npc.state import transition
from kadath.npc.territory import Territory
from kadath.services.game import Game

log = structlog.get_logger(__name__)


def spawn_key(index: int, rule: SpawnRule) -> str:
    """A stable name for the ``index``-th rule of the world (two rules may spawn the same NPC)."""
    return f"{rule.zone_id}#{index}:{rule.npc_id}"


@dataclass(order=True, frozen=True, slots=True)
class Respawn:
    due: float
    seq: int
    spawn_key: str = field(compare=False)


class NpcSpawner:
    """Spawn, despawn and keep the spawn rules' populations."""

    def __init__(self, game: Game, territory: Territory) -> None:
        self._game, self._territory = game, territory
        self.rules = {spawn_key(i, rule): rule for i, rule in enumerate(game.world.spawns)}
        self._queue: list[Respawn] = []
        self._seq = itertools.count()
        self.spawned = 0
        self.respawned = 0

    def spawn(self, definition_id: str, room_id: str, *, key: str | None = None) -> NpcInstance:
        """Bring a new NPC into ``room_id`` and tell the room. Raises NotFound, RoomNotFound."""
        world = self._game.world
        definition = world.npcs.get(definition_id)
        if definition is None:
            raise NotFound(f"There is no NPC called '{definition_id[:60]}'.")
        if room_id not in world.rooms:
            raise RoomNotFound(f"There is no room '{room_id[:60]}'.")
        now = self._game.clock.monotonic()
        npc = NpcInstance(
            id=uuid.uuid4(),
            definition=definition,
            room_id=room_id,
            health=definition.health,
            last_moved=now,
            last_emote=now,
            spawn_key=key,
        )
        self._game.npcs.add(npc)
        self.spawned += 1
        self._game.messenger.to_room(
            room_id, voice.arrived(npc, f"{voice.capitalised(npc)} appears.")
        )
        return npc

    def despawn(self, npc_id: uuid.UUID) -> NpcInstance | None:
        """Take an NPC out of the world without a death (no corpse, no respawn)."""
        npc = self._game.npcs.remove(npc_id)
        if npc is not None:
            transition(npc, NpcState.DEAD)
            text = f"{voice.capitalised(npc)} fades into the shadows."
            self._game.messenger.to_room(npc.room_id, voice.left(npc, text))
        return npc

    def population(self) -> Counter[str]:
        """Live NPCs plus queued respawns, per spawn key."""
        counts = Counter(n.spawn_key for n in self._game.npcs.all() if n.spawn_key is not None)
        counts.update(r.spawn_key for r in self._queue)
        return counts

    def reload_rules(self) -> None:
        """Take the world's spawn rules again. A live NPC or a queued respawn keeps its rule
        when one with the same zone, NPC and room remains; otherwise it no longer has one."""
        fresh = {spawn_key(i, rule): rule for i, rule in enumerate(self._game.world.spawns)}
        free = list(fresh)
        renamed: dict[str, str] = {}
        for key, rule in self.rules.items():
            match = next((k for k in free if _same_place(fresh[k], rule)), None)
            if match is not None:
                free.remove(match)
                renamed[key] = match
        self.rules = fresh
        for npc in self._game.npcs.all():
            if npc.spawn_key is not None:
                npc.spawn_key = renamed.get(npc.spawn_key)
        queue = [
            Respawn(r.due, r.seq, renamed[r.spawn_key])
            for r in self._queue
            if r.spawn_key in renamed
        ]
        heapq.heapify(queue)
        self._queue = queue

    def pending(self) -> int:
        return len(self._queue)

    def populate(self, zone_id: str | None = None) -> int:
        """Top every rule of a held zone (of ``zone_id`` only, if given) up to its maximum:
        required slots always, others by chance each."""
        counts = self.population()
        made = 0
        held = self._game.zones
        for key, rule in self.rules.items():
            if not held.holds(rule.zone_id) or zone_id not in (None, rule.zone_id):
                continue
            for _ in range(rule.max_population - counts[key]):
                if self._rolls(rule):
                    self.spawn(rule.npc_id, self.room_for(rule), key=key)
                    made += 1
        return made

    def room_for(self, rule: SpawnRule) -> str:
        """The rule's room, else a random room of its zone (a safe one only if nothing else)."""
        if rule.room_id is not None:
            return rule.room_id
        rooms = self._territory.rooms_in(rule.zone_id)
        unsafe = [r for r in rooms if not self._territory.is_safe(r)]
        return self._game.rng.choice(unsafe or rooms)

    async def on_killed(self, event: NpcKilled) -> None:
        """Queue a respawn for an NPC a spawn rule made, after its definition's delay."""
        self._game.npcs.remove(event.npc_id)
        key = event.spawn_key
        if key is None or key not in self.rules:
            return
        definition = self._game.world.npcs[self.rules[key].npc_id]
        due = self._game.clock.monotonic() + definition.respawn_seconds
        heapq.heappush(self._queue, Respawn(due, next(self._seq), key))

    def process_respawns(self) -> int:
        """Respawn every NPC whose delay has passed, unless its rule is already full."""
        now = self._game.clock.monotonic()
        made = 0
        while self._queue and self._queue[0].due <= now:
            key = heapq.heappop(self._queue).spawn_key
            rule = self.rules[key]
            if rule.room_id is not None and rule.room_id not in self._game.world.rooms:
                continue
            if not self._game.zones.holds(rule.zone_id):
                continue  # given up meanwhile: its holder spawns it
            if self.population()[key] >= rule.max_population:
                continue
            self.spawn(rule.npc_id, self.room_for(rule), key=key)
            made += 1
        self.respawned += made
        return made

    async def zone_taken(self, zone_id: str) -> None:
        """``HeldZones.taken``: the zone's NPCs come to life from its rules."""
        made = self.populate(zone_id)
        log.info("zone_npcs_spawned", zone=zone_id, spawned=made)

    async def zone_dropped(self, zone_id: str) -> None:
        """``HeldZones.dropped``: the zone's NPCs and queued respawns leave this process
        without a word (they live on where the zone is held now)."""
        rooms = self._game.world.rooms
        gone = [
            n
            for n in self._game.npcs.all()
            if (rooms[n.room_id].zone_id if n.room_id in rooms else None) == zone_id
        ]
        for npc in gone:
            self._game.npcs.remove(npc.id)
            transition(npc, NpcState.DEAD)
        queue = [r for r in self._queue if self.rules[r.spawn_key].zone_id != zone_id]
        heapq.heapify(queue)
        self._queue = queue
        log.info("zone_npcs_removed", zone=zone_id, removed=len(gone))

    async def populate_step(self, now: float) -> None:
        made = self.populate()
        if made:
            log.info("npcs_populated", spawned=made, alive=len(self._game.npcs))

    async def respawn_step(self, now: float) -> None:
        self.process_respawns()

    def stats(self) -> dict[str, int]:
        return {
            "alive": len(self._game.npcs),
            "pending_respawns": len(self._queue),
            "spawned": self.spawned,
            "respawned": self.respawned,
        }

    def _rolls(self, rule: SpawnRule) -> bool:
        return rule.required or rule.chance >= 1.0 or self._game.rng.random() < rule.chance


def _same_place(a: SpawnRule, b: SpawnRule) -> bool:
    return (a.zone_id, a.npc_id, a.room_id) == (b.zone_id, b.npc_id, b.room_id)
