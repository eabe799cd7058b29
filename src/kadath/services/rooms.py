"""What a character sees: a room's description, exits, who and what is there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kadath.domain.lucidity import band_for, tint_description
from kadath.domain.player import Player
from kadath.domain.rng import Rng
from kadath.domain.world import Room, World
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork

_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class RoomDescriber:
    """Renders rooms. What lies on each floor is cached and forgotten when a committed unit
    of work changes that room (``forget``), so a busy room costs one query, not one a look."""

    def __init__(
        self,
        world: World,
        presence: Presence,
        npcs: NpcRoster,
        reading: Callable[[], UnitOfWork],
        rng: Rng,
    ) -> None:
        self._world, self._presence, self._npcs, self._reading, self._rng = (
            world,
            presence,
            npcs,
            reading,
            rng,
        )
        self._contents: dict[str, tuple[list[str], list[str]]] = {}
        self._versions: dict[str, int] = {}
        self._epoch = 0
        # What a room shows whoever looks, worked out once per version of the world (a
        # reload or a builder's change makes a new one; ``forget_all`` drops it too).
        self._fixed: dict[str, _Fixed] = {}
        # The "You see …" line of a room's floor, with the contents it was made from.
        self._seen: dict[str, tuple[list[str], list[str], str | None]] = {}

    def forget(self, room_ids: set[str]) -> None:
        """The floor or containers of these rooms changed."""
        for room_id in room_ids:
            self._contents.pop(room_id, None)
            self._seen.pop(room_id, None)
            self._versions[room_id] = self._versions.get(room_id, 0) + 1

    def forget_all(self) -> None:
        """The world changed (a reload): item names may have changed with it."""
        self._contents.clear()
        self._fixed.clear()
        self._seen.clear()
        self._epoch += 1  # and a read under way stores nothing

    async def contents(self, room_id: str) -> tuple[list[str], list[str]]:
        """The names of the items on the floor and of the containers in a room."""
        cached = self._contents.get(room_id)
        if cached is not None:
            return cached
        version = (self._versions.get(room_id, 0), self._epoch)
        async with self._reading() as uow:
            floor = await uow.items.items_at_floor(room_id)
            containers = await uow.containers.get_containers_in_room(room_id)
        found = (
            [self._world.items[i.prototype_id].name for i in floor],
            [c.name for c in containers],
        )
        if (self._versions.get(room_id, 0), self._epoch) == version:  # nothing changed meanwhile
            self._contents[room_id] = found
        return found

    async def describe(self, viewer: Player) -> tuple[dict[str, Any], str]:
        """The room the viewer stands in, as a structured view and as text."""
        room = self._world.rooms[viewer.room_id]
        items, container_names = await self.contents(room.id)
        fixed = self._fixed_of(room)
        name = viewer.name  # names are unique in play: the viewer is the one not shown
        players = [n for n in self._presence.names_in_room(room.id) if n != name]
        npcs = [n.name for n in self._npcs.in_room(room.id) if n.alive]
        view = {
            "id": room.id,
            "name": room.name,
            "zone": fixed.zone,
            "description": room.description,
            "exits": list(fixed.exits),
            "players": players,
            "npcs": npcs,
            "items": list(items),
            "containers": list(container_names),
            "flags": list(fixed.flags),
        }
        description = tint_description(room.description, band_for(viewer.lucidity), self._rng)
        lines = [room.name, description, fixed.exits_line]
        seen = self._seen_line(room.id, items, container_names)
        if seen is not None:
            lines.append(seen)
        beings = players + npcs
        if beings:
            lines.append("Here: " + join_words(beings) + ".")
        return view, "\n".join(lines)

    def _fixed_of(self, room: Room) -> _Fixed:
        fixed = self._fixed.get(room.id)
        version = self._world.version
        if fixed is None or fixed.version != version or fixed.room is not room:
            exits = tuple(d.value for d in room.exits)
            fixed = self._fixed[room.id] = _Fixed(
                version=version,
                room=room,
                zone=self._world.zones[room.zone_id].name,
                exits=exits,
                flags=tuple(sorted(room.flags)),
                exits_line="Exits: " + (", ".join(exits) if exits else "none") + ".",
            )
        return fixed

    def _seen_line(self, room_id: str, items: list[str], containers: list[str]) -> str | None:
        kept = self._seen.get(room_id)
        if kept is not None and kept[0] is items and kept[1] is containers:
            return kept[2]
        things = summarize(items) + containers
        line = "You see " + join_words(things) + "." if things else None
        self._seen[room_id] = (items, containers, line)
        return line


@dataclass(frozen=True, slots=True)
class _Fixed:
    """What a room shows whoever looks, for one version of the world."""

    version: int
    room: Room
    zone: str
    exits: tuple[str, ...]
    flags: tuple[str, ...]
    exits_line: str


def summarize(names: list[str]) -> list[str]:
    """Repeated names folded: ['a coin', 'a coin'] → ['a coin (×two)']."""
    counts = Counter(names)
    out = []
    for name, count in counts.items():
        out.append(name if count == 1 else f"{name} (×{_NUMBERS.get(count, count)})")
    return out


def join_words(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
