"""Where NPCs may go: the rooms of each zone and the exits that stay inside one, precomputed."""

from __future__ import annotations

from kadath.domain.npc import NpcInstance
from kadath.domain.world import Direction, World

Exit = tuple[Direction, str]


class Territory:
    def __init__(self, world: World) -> None:
        self._world = world
        self._zone_rooms: dict[str, tuple[str, ...]] = {}
        self._exits: dict[tuple[str, str], tuple[Exit, ...]] = {}
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute from the world (after a reload or a builder's edit)."""
        zones: dict[str, list[str]] = {}
        for room in self._world.rooms.values():
            zones.setdefault(room.zone_id, []).append(room.id)
        self._zone_rooms = {zone: tuple(sorted(ids)) for zone, ids in zones.items()}
        self._exits = {}
        for room in self._world.rooms.values():
            self.exits_within(room.id, room.zone_id)

    def rooms_in(self, zone_id: str) -> tuple[str, ...]:
        return self._zone_rooms.get(zone_id, ())

    def home_of(self, npc: NpcInstance) -> str:
        """The zone an NPC keeps to: its definition's home zone, else the zone it stands in."""
        return npc.definition.home_zone or self._world.rooms[npc.room_id].zone_id

    def exits_within(self, room_id: str, zone_id: str) -> tuple[Exit, ...]:
        """The exits of ``room_id`` that lead into ``zone_id`` (cached)."""
        key = (room_id, zone_id)
        exits = self._exits.get(key)
        if exits is None:
            rooms = self._world.rooms
            room = rooms.get(room_id)
            exits = tuple(
                (direction, dest)
                for direction, dest in (room.exits.items() if room else ())
                if dest in rooms and rooms[dest].zone_id == zone_id
            )
            self._exits[key] = exits
        return exits

    def is_safe(self, room_id: str) -> bool:
        """A room a reload removed counts as safe: nothing starts there any more."""
        room = self._world.rooms.get(room_id)
        return room is None or room.safe
