"""What a character sees: a room's description, exits, who and what is there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
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

    def forget(self, room_ids: set[str]) -> None:
        """The floor or containers of these rooms changed."""
        for room_id in room_ids:
            self._contents.pop(room_id, None)
            self._versions[room_id] = self._versions.get(room_id, 0) + 1

    def forget_all(self) -> None:
        """The world changed (a reload): item names may have changed with it."""
        self._contents.clear()
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
        view = {
            "id": room.id,
            "name": room.name,
            "zone": self._world.zones[room.zone_id].name,
            "description": room.description,
            "exits": [d.value for d in room.exits],
            "players": [p.name for p in self._presence.in_room(room.id) if p.id != viewer.id],
            "npcs": [n.name for n in self._npcs.in_room(room.id) if n.alive],
            "items": list(items),
            "containers": list(container_names),
            "flags": sorted(room.flags),
        }
        return view, self.render(room, view, viewer)

    def render(self, room: Room, view: dict[str, Any], viewer: Player) -> str:
        description = tint_description(room.description, band_for(viewer.lucidity), self._rng)
        lines = [room.name, description]
        exits = view["exits"]
        lines.append("Exits: " + (", ".join(exits) if exits else "none") + ".")
        things = summarize(view["items"]) + view["containers"]
        if things:
            lines.append("You see " + join_words(things) + ".")
        beings = view["players"] + view["npcs"]
        if beings:
            lines.append("Here: " + join_words(beings) + ".")
        return "\n".join(lines)


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
