"""The NPCs alive right now, indexed by room (in memory; spawning refills them at start-up)."""

from __future__ import annotations

import uuid

from kadath.domain.npc import NpcInstance


class NpcRoster:
    def __init__(self) -> None:
        self._npcs: dict[uuid.UUID, NpcInstance] = {}
        self._rooms: dict[str, dict[uuid.UUID, None]] = {}

    def add(self, npc: NpcInstance) -> None:
        self._npcs[npc.id] = npc
        self._rooms.setdefault(npc.room_id, {})[npc.id] = None

    def remove(self, npc_id: uuid.UUID) -> NpcInstance | None:
        npc = self._npcs.pop(npc_id, None)
        if npc is not None:
            self._drop(npc.room_id, npc_id)
        return npc

    def move(self, npc: NpcInstance, room_id: str) -> None:
        self._drop(npc.room_id, npc.id)
        npc.room_id = room_id
        self._rooms.setdefault(room_id, {})[npc.id] = None

    def get(self, npc_id: uuid.UUID) -> NpcInstance | None:
        return self._npcs.get(npc_id)

    def in_room(self, room_id: str) -> list[NpcInstance]:
        return [self._npcs[i] for i in self._rooms.get(room_id, ())]

    def all(self) -> list[NpcInstance]:
        return list(self._npcs.values())

    def count_of(self, definition_id: str) -> int:
        return sum(1 for n in self._npcs.values() if n.definition.id == definition_id)

    def __len__(self) -> int:
        return len(self._npcs)

    def _drop(self, room_id: str, npc_id: uuid.UUID) -> None:
        occupants = self._rooms.get(room_id)
        if occupants is not None:
            occupants.pop(npc_id, None)
            if not occupants:
                del self._rooms[room_id]
