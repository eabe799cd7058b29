"""The zones whose live state this process runs: NPCs, fights and the game loop's per-zone steps.

One process runs every zone (``HeldZones.every``). A cluster node starts with none
(``HeldZones.none``) and tells the game each zone it takes or gives up (``take``, ``drop``); the
features listening (spawning, combat) bring that zone's NPCs to life or remove them and its
fights. The game asks ``holds`` / ``runs_room``; it never sees the leases behind them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import structlog

from kadath.domain.world import World

ZoneListener = Callable[[str], Awaitable[None]]
log = structlog.get_logger(__name__)


class HeldZones:
    def __init__(self, world: World, zones: Iterable[str] | None) -> None:
        self._world = world
        self._zones = None if zones is None else set(zones)  # None: every zone, always
        self.taken: list[ZoneListener] = []  # called after a zone is taken
        self.dropped: list[ZoneListener] = []  # called after a zone is given up

    @classmethod
    def every(cls, world: World) -> HeldZones:
        """One process: every zone of the world, now and after reloads."""
        return cls(world, None)

    @classmethod
    def none(cls, world: World) -> HeldZones:
        """A cluster node before it holds anything."""
        return cls(world, ())

    @property
    def held(self) -> frozenset[str] | None:
        """The zones held; None for every zone."""
        return None if self._zones is None else frozenset(self._zones)

    def holds(self, zone_id: str) -> bool:
        return self._zones is None or zone_id in self._zones

    def runs_room(self, room_id: str) -> bool:
        """Whether the room's zone is held (a room a reload removed: only by one process)."""
        if self._zones is None:
            return True
        room = self._world.rooms.get(room_id)
        return room is not None and room.zone_id in self._zones

    async def take(self, zone_id: str) -> None:
        """The zone is now held here: its listeners bring it to life."""
        if self._zones is None or zone_id in self._zones:
            return
        self._zones.add(zone_id)
        await self._tell(self.taken, zone_id, "zone_take_listener_failed")

    async def drop(self, zone_id: str) -> None:
        """The zone is no longer held here: its listeners remove its live state (writing
        nothing: another process may own it already)."""
        if self._zones is None or zone_id not in self._zones:
            return
        self._zones.discard(zone_id)
        await self._tell(self.dropped, zone_id, "zone_drop_listener_failed")

    async def _tell(self, listeners: list[ZoneListener], zone_id: str, failed: str) -> None:
        for listener in listeners:
            try:
                await listener(zone_id)
            except Exception:
                log.exception(failed, zone=zone_id)
