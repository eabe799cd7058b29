"""Building in the game: digging rooms, describing them, exits and flags, saving a zone.

Every change is made on a copy of the world, checked exactly as the loader checks the files,
and only then adopted (in one loop turn): a refused change leaves nothing half-applied."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kadath.domain.errors import InvalidInput, NotAllowed, RoomNotFound
from kadath.domain.item import ContainerKind, OnFloor
from kadath.domain.player import Player
from kadath.domain.world import (
    ContainerPlacement,
    Direction,
    ItemStack,
    Room,
    SpawnRule,
    World,
)
from kadath.services.build_grants import GrantBook
from kadath.services.unit_of_work import UnitOfWork
from kadath.world.loader import WorldFileError
from kadath.world.writer import find_world_problems, write_zone

MAX_PROBLEMS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class NewContainer:
    """What a builder says of a container to place: ``place container <id> <capacity> <name>
    [key=<key id>] [locked]``."""

    container_id: str
    name: str
    capacity: int
    key: str | None = None
    locked: bool = False

    def placement(self, room_id: str) -> ContainerPlacement:
        """As the zone file would declare it: a short description and keywords from the name."""
        name = self.name.strip()
        return ContainerPlacement(
            id=self.container_id,
            room_id=room_id,
            name=name,
            description=f"{name[:1].upper()}{name[1:]}." if name else "",
            keywords=_keywords(name, self.container_id),
            capacity=self.capacity,
            locked=self.locked,
            key_prototype_id=self.key,
        )


def can_build(player: Player, zone_id: str, grants: GrantBook) -> bool:
    """May ``player`` change zone ``zone_id``? Admins everywhere; builders and moderators
    only in the zones granted to their account."""
    return grants.allows(player.role, player.account_id, zone_id)


class Builder:
    def __init__(
        self,
        world: World,
        directory: Path,
        changed: Callable[[], None],
        uow: Callable[[], UnitOfWork],
        grants: GrantBook,
    ) -> None:
        self._world, self._directory, self._changed, self._uow = world, directory, changed, uow
        self._grants = grants
        self._saving = asyncio.Lock()

    def here(self, player: Player) -> Room:
        """The room the builder stands in, if they may build in its zone. Raises NotAllowed."""
        room = self._world.rooms[player.room_id]
        self._may_build(player, room.zone_id)
        return room

    def _may_build(self, player: Player, zone_id: str) -> None:
        """Raises NotAllowed unless ``player`` may build in zone ``zone_id``."""
        if not can_build(player, zone_id, self._grants):
            zone = self._world.zones.get(zone_id)
            name = zone_id if zone is None else zone.name
            raise NotAllowed(f"You may not build in {name}; ask an admin for a grant.")

    def dig(self, player: Player, direction: Direction, room_id: str, name: str) -> Room:
        """A new room of this zone through ``direction``, with the way back. Raises
        NotAllowed, InvalidInput."""
        here = self.here(player)
        if room_id in self._world.rooms:
            raise InvalidInput(f"There is already a room '{room_id}'.")
        if direction in here.exits:
            raise InvalidInput(f"There is already an exit {direction.value} from here.")
        new = Room(
            id=room_id,
            zone_id=here.zone_id,
            name=name,
            description=f"An unfinished place. ({name})",
            exits={direction.opposite: here.id},
        )
        self._apply([_with_exit(here, direction, room_id), new])
        return new

    def describe(self, player: Player, text: str) -> None:
        self._apply([dataclasses.replace(self.here(player), description=text)])

    def rename(self, player: Player, name: str) -> None:
        self._apply([dataclasses.replace(self.here(player), name=name)])

    def add_exit(self, player: Player, direction: Direction, room_id: str) -> None:
        """A two-way exit to an existing room. Raises NotAllowed, RoomNotFound, InvalidInput."""
        here = self.here(player)
        there = self._world.rooms.get(room_id)
        if there is None:
            raise RoomNotFound(f"There is no room '{room_id[:60]}'.")
        self._may_build(player, there.zone_id)
        if direction in here.exits:
            raise InvalidInput(f"There is already an exit {direction.value} from here.")
        if direction.opposite in there.exits:
            raise InvalidInput(f"'{room_id}' already has an exit {direction.opposite.value}.")
        self._apply(
            [_with_exit(here, direction, room_id), _with_exit(there, direction.opposite, here.id)]
        )

    def remove_exit(self, player: Player, direction: Direction) -> None:
        """Remove an exit and the way back. Raises NotAllowed, InvalidInput."""
        here = self.here(player)
        target = here.exits.get(direction)
        if target is None:
            raise InvalidInput(f"There is no exit {direction.value} from here.")
        changed = [_without_exit(here, direction)]
        there = self._world.rooms[target]
        if there.exits.get(direction.opposite) == here.id:
            self._may_build(player, there.zone_id)
            changed.append(_without_exit(there, direction.opposite))
        self._apply(changed)

    def set_flag(self, player: Player, flag: str, *, on: bool) -> None:
        here = self.here(player)
        flags = here.flags | {flag} if on else here.flags - {flag}
        if flags == here.flags:
            raise InvalidInput(f"This room is {'already' if on else 'not'} flagged '{flag}'.")
        self._apply([dataclasses.replace(here, flags=frozenset(flags))])

    async def place_item(self, player: Player, prototype_id: str, count: int) -> Room:
        """Put ``count`` of an item on this room's floor, now and in the zone file. Raises
        NotAllowed, InvalidInput."""
        room_id = self.here(player).id
        self._check(self._candidate([_with_items(self.here(player), prototype_id, count)]))
        async with self._uow() as uow:
            await uow.items.create_items([prototype_id] * count, OnFloor(room_id))
        room = self._world.rooms.get(room_id)
        if room is None:  # a reload removed it while the items were being made
            raise InvalidInput("The room vanished while the items were placed.")
        self._apply([_with_items(room, prototype_id, count)])
        return room

    async def place_container(self, player: Player, new: NewContainer) -> ContainerPlacement:
        """An environment container in this room, now (one transaction, claimed by the same
        seed key as start-up, so a restart does not place it twice) and in the zone file.
        Raises NotAllowed, InvalidInput."""
        here = self.here(player)
        if new.container_id in self._world.containers:
            raise InvalidInput(f"There is already a container '{new.container_id[:60]}'.")
        placement = new.placement(here.id)
        self._check(self._with_container(placement))
        async with self._uow() as uow:
            key = f"container:{placement.id}"
            taken = await uow.containers.get_container_by_world_key(placement.id)
            if taken is not None or not await uow.items.ensure_seeded(key):
                raise InvalidInput(
                    f"A container '{placement.id}' was placed before; choose another id."
                )
            await uow.containers.create_container(
                kind=ContainerKind.ENVIRONMENT,
                name=placement.name,
                capacity=placement.capacity,
                room_id=placement.room_id,
                world_key=placement.id,
                locked=placement.locked,
                key_prototype_id=placement.key_prototype_id,
                metadata={
                    "keywords": list(placement.keywords),
                    "description": placement.description,
                },
            )
        if placement.room_id not in self._world.rooms:  # a reload removed it meanwhile
            raise InvalidInput("The room vanished while the container was placed.")
        self._adopt(self._with_container(placement))
        return placement

    def _with_container(self, placement: ContainerPlacement) -> World:
        candidate = self._candidate([])
        candidate.containers[placement.id] = placement
        return candidate

    def add_spawn(self, player: Player, npc_id: str, most: int, chance: float) -> SpawnRule:
        """A spawn rule for this room. Raises NotAllowed, InvalidInput."""
        here = self.here(player)
        rule = SpawnRule(npc_id, here.zone_id, here.id, most, chance)
        candidate = self._candidate([])
        candidate.spawns = (*candidate.spawns, rule)
        self._adopt(candidate)
        return rule

    def remove_spawns(self, player: Player, npc_id: str) -> int:
        """Remove this room's spawn rules for ``npc_id``; returns how many. Raises
        NotAllowed, InvalidInput."""
        here = self.here(player)
        kept = tuple(s for s in self._world.spawns if (s.room_id, s.npc_id) != (here.id, npc_id))
        removed = len(self._world.spawns) - len(kept)
        if not removed:
            raise InvalidInput(f"No spawn rule here makes '{npc_id[:40]}'.")
        candidate = self._candidate([])
        candidate.spawns = kept
        self._adopt(candidate)
        return removed

    async def save_zone(self, player: Player) -> Path:
        """Write the builder's zone to its file. Raises NotAllowed, InvalidInput."""
        zone_id = self.here(player).zone_id
        if not self._world.zones[zone_id].file:
            raise InvalidInput("This zone was not loaded from a file, so it cannot be saved.")
        snapshot = self._world.copy()  # what is saved is the world as it is now
        async with self._saving:
            try:
                return await asyncio.to_thread(write_zone, self._directory, snapshot, zone_id)
            except WorldFileError as exc:
                raise InvalidInput(_refusal(exc.problems)) from exc

    def _apply(self, rooms: list[Room]) -> None:
        self._adopt(self._candidate(rooms))

    def _candidate(self, rooms: list[Room]) -> World:
        candidate = self._world.copy()
        candidate.rooms.update((room.id, room) for room in rooms)
        return candidate

    def _check(self, candidate: World) -> None:
        problems = find_world_problems(candidate)
        if problems:
            raise InvalidInput(_refusal(problems))

    def _adopt(self, candidate: World) -> None:
        self._check(candidate)
        self._world.adopt(candidate)
        self._changed()


_NOT_KEYWORDS = {"a", "an", "the", "of", "and"}


def _keywords(name: str, container_id: str) -> tuple[str, ...]:
    words = ["".join(c for c in w.lower() if c.isalnum() or c == "'") for w in name.split()]
    found = [w for w in words if w and w[0].isalnum() and w not in _NOT_KEYWORDS]
    found.append(container_id.replace("_", " "))
    return tuple(dict.fromkeys(found))


def _with_items(room: Room, prototype_id: str, count: int) -> Room:
    stacks = list(room.items)
    for index, stack in enumerate(stacks):
        if stack.prototype_id == prototype_id:
            stacks[index] = ItemStack(prototype_id, stack.count + count)
            break
    else:
        stacks.append(ItemStack(prototype_id, count))
    return dataclasses.replace(room, items=tuple(stacks))


def _with_exit(room: Room, direction: Direction, target: str) -> Room:
    return dataclasses.replace(room, exits={**room.exits, direction: target})


def _without_exit(room: Room, direction: Direction) -> Room:
    return dataclasses.replace(
        room, exits={d: target for d, target in room.exits.items() if d is not direction}
    )


def _refusal(problems: object) -> str:
    listed = [str(p) for p in problems] if isinstance(problems, (list, tuple)) else []
    shown = listed[:MAX_PROBLEMS_SHOWN]
    more = len(listed) - len(shown)
    return "\n".join(
        ["That would break the world files; nothing changed.", *shown]
        + ([f"… and {more} more."] if more else [])
    )
