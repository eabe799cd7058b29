"""RoomRepository: rooms come from the world files, held in a cache loaded once at start-up."""

from __future__ import annotations

from kadath.domain.errors import RoomNotFound
from kadath.domain.world import Room, World


class RoomCache:
    """The loaded world's rooms, indexed by id and by zone; ``rebuild`` after the world
    changes (a reload, a builder's edit)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._by_zone: dict[str, list[Room]] = {}
        self.rebuild()

    def rebuild(self) -> None:
        by_zone: dict[str, list[Room]] = {}
        for room in self.world.rooms.values():
            by_zone.setdefault(room.zone_id, []).append(room)
        self._by_zone = by_zone

    def get(self, room_id: str) -> Room | None:
        return self.world.rooms.get(room_id)

    def in_zone(self, zone_id: str) -> list[Room]:
        return list(self._by_zone.get(zone_id, ()))

    def __len__(self) -> int:
        return len(self.world.rooms)


class RoomRepository:
    def __init__(self, cache: RoomCache) -> None:
        self._cache = cache

    async def get_room_by_id(self, room_id: str) -> Room:
        """Raises RoomNotFound."""
        room = self._cache.get(room_id) if isinstance(room_id, str) else None
        if room is None:
            raise RoomNotFound(f"There is no room {room_id!r}.")
        return room

    async def list_rooms(self, zone_id: str | None = None) -> list[Room]:
        rooms = self._cache.in_zone(zone_id) if zone_id else list(self._cache.world.rooms.values())
        return sorted(rooms, key=lambda r: r.id)
