"""What a character sees: a room's description, exits, who and what is there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from kadath.domain.lucidity import band_for, tint_description
from kadath.domain.player import Player
from kadath.domain.rng import Rng
from kadath.domain.world import Room, World
from kadath.persistence.uow import UnitOfWork
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence

_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class RoomDescriber:
    def __init__(
        self,
        world: World,
        presence: Presence,
        npcs: NpcRoster,
        uow: Callable[[], UnitOfWork],
        rng: Rng,
    ) -> None:
        self._world, self._presence, self._npcs, self._uow, self._rng = (
            world,
            presence,
            npcs,
            uow,
            rng,
        )

    async def describe(self, viewer: Player) -> tuple[dict[str, Any], str]:
        """The room the viewer stands in, as a structured view and as text."""
        room = self._world.rooms[viewer.room_id]
        async with self._uow() as uow:
            floor = await uow.items.items_at_floor(room.id)
            containers = await uow.containers.get_containers_in_room(room.id)
        items = [self._world.items[i.prototype_id].name for i in floor]
        view = {
            "id": room.id,
            "name": room.name,
            "zone": self._world.zones[room.zone_id].name,
            "description": room.description,
            "exits": [d.value for d in room.exits],
            "players": [p.name for p in self._presence.in_room(room.id) if p.id != viewer.id],
            "npcs": [n.name for n in self._npcs.in_room(room.id) if n.alive],
            "items": items,
            "containers": [c.name for c in containers],
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
