"""Checks across the world files: every id one file names must exist in another.

Each check yields `WorldProblem`s naming the file and the field path of the bad reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kadath.domain.world import ItemKind
from kadath.world.schema import ItemsFile, NpcsFile, RoomSpec, StackSpec, WorldFile, ZoneFile

WORLD_FILE = "world.yaml"
ITEMS_FILE = "items.yaml"
NPCS_FILE = "npcs.yaml"
ZONES_DIR = "zones"


@dataclass(frozen=True, slots=True)
class WorldProblem:
    """One thing wrong with the world files, located by file and dotted field path."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        if not self.path:
            return f"{self.file}: {self.reason}"
        return f"{self.file}: {self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class WorldFiles:
    """Every world file, each already valid on its own; zones keyed by their relative path."""

    world: WorldFile
    items: ItemsFile
    npcs: NpcsFile
    zones: dict[str, ZoneFile]


@dataclass(frozen=True, slots=True)
class _PlacedRoom:
    file: str
    index: int
    zone_id: str
    spec: RoomSpec

    @property
    def path(self) -> str:
        return f"rooms[{self.index}]"


def find_problems(files: WorldFiles) -> list[WorldProblem]:
    """Every broken cross-reference in `files`, in file order; empty when the world is sound."""
    rooms = _index_rooms(files)
    item_kinds = {item.id: item.kind for item in files.items.items}
    return [
        *_duplicate_items(files.items),
        *_duplicate_npcs(files.npcs),
        *_npc_references(files, item_kinds),
        *_duplicate_zones(files.zones),
        *_room_ids(files.zones),
        *_exits(rooms),
        *_room_contents(rooms, item_kinds),
        *_spawns(files, rooms),
        *_start_room(files.world, rooms),
    ]


def _index_rooms(files: WorldFiles) -> dict[str, _PlacedRoom]:
    rooms: dict[str, _PlacedRoom] = {}
    for file, zone_file in files.zones.items():
        for index, room in enumerate(zone_file.rooms):
            rooms.setdefault(room.id, _PlacedRoom(file, index, zone_file.zone.id, room))
    return rooms


def _duplicate_items(items: ItemsFile) -> Iterator[WorldProblem]:
    first: dict[str, int] = {}
    for index, item in enumerate(items.items):
        if item.id in first:
            reason = f"duplicate item id '{item.id}' (first at items[{first[item.id]}])"
            yield WorldProblem(ITEMS_FILE, f"items[{index}].id", reason)
        first.setdefault(item.id, index)


def _duplicate_npcs(npcs: NpcsFile) -> Iterator[WorldProblem]:
    first: dict[str, int] = {}
    for index, npc in enumerate(npcs.npcs):
        if npc.id in first:
            reason = f"duplicate npc id '{npc.id}' (first at npcs[{first[npc.id]}])"
            yield WorldProblem(NPCS_FILE, f"npcs[{index}].id", reason)
        first.setdefault(npc.id, index)


def _npc_references(files: WorldFiles, item_kinds: dict[str, ItemKind]) -> Iterator[WorldProblem]:
    zone_ids = {zone_file.zone.id for zone_file in files.zones.values()}
    for index, npc in enumerate(files.npcs.npcs):
        for slot, loot in enumerate(npc.loot):
            if loot.item not in item_kinds:
                path = f"npcs[{index}].loot[{slot}].item"
                yield WorldProblem(NPCS_FILE, path, f"unknown item '{loot.item}'")
        if npc.home_zone is not None and npc.home_zone not in zone_ids:
            path = f"npcs[{index}].home_zone"
            yield WorldProblem(NPCS_FILE, path, f"unknown zone '{npc.home_zone}'")


def _duplicate_zones(zones: dict[str, ZoneFile]) -> Iterator[WorldProblem]:
    first: dict[str, str] = {}
    for file, zone_file in zones.items():
        zone_id = zone_file.zone.id
        if zone_id in first:
            reason = f"duplicate zone id '{zone_id}' (also in {first[zone_id]})"
            yield WorldProblem(file, "zone.id", reason)
        first.setdefault(zone_id, file)


def _room_ids(zones: dict[str, ZoneFile]) -> Iterator[WorldProblem]:
    first: dict[str, str] = {}
    for file, zone_file in zones.items():
        prefix = f"{zone_file.zone.id}."
        for index, room in enumerate(zone_file.rooms):
            path = f"rooms[{index}].id"
            if not room.id.startswith(prefix):
                yield WorldProblem(file, path, f"room id '{room.id}' must start with '{prefix}'")
            if room.id in first:
                reason = f"duplicate room id '{room.id}' (first in {first[room.id]})"
                yield WorldProblem(file, path, reason)
            first.setdefault(room.id, file)


def _exits(rooms: dict[str, _PlacedRoom]) -> Iterator[WorldProblem]:
    for room_id, placed in rooms.items():
        for direction, target_id in placed.spec.exits.items():
            path = f"{placed.path}.exits.{direction.value}"
            target = rooms.get(target_id)
            if target is None:
                yield WorldProblem(placed.file, path, f"unknown room '{target_id}'")
                continue
            back = target.spec.exits.get(direction.opposite)
            if back != room_id:
                reason = (
                    f"'{target_id}' has no exit {direction.opposite.value} back to '{room_id}'"
                    + (f" (it leads to '{back}')" if back is not None else "")
                )
                yield WorldProblem(placed.file, path, reason)


def _room_contents(
    rooms: dict[str, _PlacedRoom], item_kinds: dict[str, ItemKind]
) -> Iterator[WorldProblem]:
    container_rooms: dict[str, str] = {}
    for room_id, placed in rooms.items():
        yield from _stacks(placed.file, f"{placed.path}.items", placed.spec.items, item_kinds)
        for index, container in enumerate(placed.spec.containers):
            path = f"{placed.path}.containers[{index}]"
            if container.id in container_rooms:
                reason = f"duplicate container id '{container.id}' (also in '{room_id}')"
                yield WorldProblem(placed.file, f"{path}.id", reason)
            container_rooms.setdefault(container.id, room_id)
            if container.key is not None and item_kinds.get(container.key) is not ItemKind.KEY:
                reason = f"'{container.key}' is not a key item"
                yield WorldProblem(placed.file, f"{path}.key", reason)
            yield from _stacks(placed.file, f"{path}.contents", container.contents, item_kinds)


def _stacks(
    file: str, path: str, stacks: list[StackSpec], item_kinds: dict[str, ItemKind]
) -> Iterator[WorldProblem]:
    for index, stack in enumerate(stacks):
        if stack.item not in item_kinds:
            yield WorldProblem(file, f"{path}[{index}].item", f"unknown item '{stack.item}'")


def _spawns(files: WorldFiles, rooms: dict[str, _PlacedRoom]) -> Iterator[WorldProblem]:
    home_zones = {npc.id: npc.home_zone for npc in files.npcs.npcs}
    for file, zone_file in files.zones.items():
        zone_id = zone_file.zone.id
        for index, spawn in enumerate(zone_file.spawns):
            path = f"spawns[{index}]"
            if spawn.npc not in home_zones:
                yield WorldProblem(file, f"{path}.npc", f"unknown npc '{spawn.npc}'")
            elif home_zones[spawn.npc] not in (None, zone_id):
                reason = f"npc '{spawn.npc}' lives in zone '{home_zones[spawn.npc]}', not here"
                yield WorldProblem(file, f"{path}.npc", reason)
            if spawn.room is None:
                continue
            placed = rooms.get(spawn.room)
            if placed is None:
                yield WorldProblem(file, f"{path}.room", f"unknown room '{spawn.room}'")
            elif placed.zone_id != zone_id:
                reason = f"room '{spawn.room}' is not in zone '{zone_id}'"
                yield WorldProblem(file, f"{path}.room", reason)


def _start_room(world: WorldFile, rooms: dict[str, _PlacedRoom]) -> Iterator[WorldProblem]:
    if world.start_room not in rooms:
        yield WorldProblem(WORLD_FILE, "start_room", f"unknown room '{world.start_room}'")
