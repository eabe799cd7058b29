"""Reads the world's YAML files into a validated, cross-checked `kadath.domain.world.World`.

WorldFileError is the loader's only exception: unreadable, malformed or inconsistent files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kadath.domain.world import (
    ContainerPlacement,
    Dialogue,
    ItemPrototype,
    ItemStack,
    LootEntry,
    NpcDefinition,
    Room,
    SpawnRule,
    World,
    Zone,
)
from kadath.world.consistency import (
    ITEMS_FILE,
    NPCS_FILE,
    WORLD_FILE,
    ZONES_DIR,
    WorldFiles,
    WorldProblem,
    find_problems,
)
from kadath.world.help import HELP_DIR, read_help
from kadath.world.schema import (
    ContainerSpec,
    ItemsFile,
    ItemSpec,
    NpcsFile,
    NpcSpec,
    RoomSpec,
    StackSpec,
    WorldFile,
    ZoneFile,
)

DEFAULT_WORLD_DIR = Path(__file__).resolve().parent / "data"
# libyaml's safe loader when PyYAML was built with it: the same documents, ~7x less CPU.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_Model = TypeVar("_Model", bound=BaseModel)
_REASONS = {"extra_forbidden": "unknown field", "missing": "required field is missing"}


class WorldFileError(Exception):
    """The world files cannot become a world; the message has one `file: path: reason` a line."""

    def __init__(self, problems: Sequence[WorldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_world(directory: Path = DEFAULT_WORLD_DIR) -> World:
    """Parse, validate and cross-check every file under `directory`; raises WorldFileError.

    Blocking file I/O: call it from async code with `asyncio.to_thread`.
    """
    reader = _FileReader(directory)
    world = reader.read(WORLD_FILE, WorldFile)
    items = reader.read(ITEMS_FILE, ItemsFile)
    npcs = reader.read(NPCS_FILE, NpcsFile)
    zones = {name: reader.read(name, ZoneFile) for name in reader.zone_file_names()}
    topics = read_help(directory / HELP_DIR, reader.problems)
    if reader.problems or world is None or items is None or npcs is None:
        raise WorldFileError(reader.problems)
    files = WorldFiles(world, items, npcs, {n: z for n, z in zones.items() if z is not None})
    problems = find_problems(files)
    if problems:
        raise WorldFileError(problems)
    assembled = _assemble(files)
    assembled.help.update(topics)
    return assembled


def check_world(directory: Path = DEFAULT_WORLD_DIR) -> str:
    """Load ``directory`` exactly as at start-up; a one-line summary, or raises WorldFileError."""
    world = load_world(directory)
    return (
        f"ok: {len(world.rooms)} rooms in {len(world.zones)} zones, {len(world.items)} items, "
        f"{len(world.npcs)} NPCs, {len(world.spawns)} spawn rules, {len(world.help)} help topics"
    )


class _FileReader:
    """Reads YAML files relative to one directory, recording problems instead of raising."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self.problems: list[WorldProblem] = []

    def zone_file_names(self) -> list[str]:
        zone_dir = self._directory / ZONES_DIR
        names = [f"{ZONES_DIR}/{path.name}" for path in sorted(zone_dir.glob("*.yaml"))]
        if not names:
            self.problems.append(WorldProblem(ZONES_DIR, "", "no zone files (*.yaml) found"))
        return names

    def read(self, name: str, model: type[_Model]) -> _Model | None:
        data = self._load_yaml(name)
        if data is None:
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.problems.extend(validation_problems(name, exc))
            return None

    def _load_yaml(self, name: str) -> dict[str, Any] | None:
        reason = "the file must hold a mapping at the top level"
        try:
            data = yaml.load((self._directory / name).read_text(encoding="utf-8"), SAFE_LOADER)  # noqa: S506
        except FileNotFoundError:
            reason = "file not found"
        except (OSError, UnicodeDecodeError) as exc:
            reason = f"cannot read file: {exc}"
        except yaml.YAMLError as exc:
            reason = _yaml_reason(exc)
        else:
            if isinstance(data, dict):
                return data
        self.problems.append(WorldProblem(name, "", reason))
        return None


def validation_problems(name: str, exc: ValidationError) -> list[WorldProblem]:
    """A pydantic error for file ``name`` as the loader reports it: one problem per field."""
    return [
        WorldProblem(name, _dotted(error["loc"]), _reason(error["type"], error["msg"]))
        for error in exc.errors()
    ]


def _dotted(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":  # pydantic marks a bad dict key; the key itself is already named
            path += f".{part}" if path else part
    return path


def _reason(error_type: str, message: str) -> str:
    return _REASONS.get(error_type) or message.removeprefix("Value error, ")


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _assemble(files: WorldFiles) -> World:
    zones: dict[str, Zone] = {}
    rooms: dict[str, Room] = {}
    containers: dict[str, ContainerPlacement] = {}
    spawns: list[SpawnRule] = []
    for file, zone_file in files.zones.items():
        zone_id = zone_file.zone.id
        zones[zone_id] = Zone(zone_id, zone_file.zone.name, zone_file.zone.description, file)
        for room in zone_file.rooms:
            rooms[room.id] = _room(room, zone_id)
            containers.update((c.id, _container(c, room.id)) for c in room.containers)
        spawns.extend(
            SpawnRule(spawn.npc, zone_id, spawn.room, spawn.max, spawn.chance, spawn.required)
            for spawn in zone_file.spawns
        )
    return World(
        zones=zones,
        rooms=rooms,
        items={item.id: _item(item) for item in files.items.items},
        containers=containers,
        npcs={npc.id: _npc(npc) for npc in files.npcs.npcs},
        spawns=tuple(spawns),
        start_room_id=files.world.start_room,
        name=files.world.name,
    )


def _stacks(stacks: list[StackSpec]) -> tuple[ItemStack, ...]:
    return tuple(ItemStack(stack.item, stack.count) for stack in stacks)


def _item(spec: ItemSpec) -> ItemPrototype:
    return ItemPrototype(
        id=spec.id,
        name=spec.name,
        description=spec.description,
        keywords=tuple(spec.keywords),
        kind=spec.kind,
        weight=spec.weight,
        value=spec.value,
        slot=spec.slot,
        damage=spec.damage,
        armor=spec.armor,
        capacity=spec.capacity,
    )


def _room(spec: RoomSpec, zone_id: str) -> Room:
    return Room(
        id=spec.id,
        zone_id=zone_id,
        name=spec.name,
        description=spec.description,
        exits=dict(spec.exits),
        flags=frozenset(spec.flags),
        lucidity_cost=spec.lucidity_cost,
        items=_stacks(spec.items),
    )


def _container(spec: ContainerSpec, room_id: str) -> ContainerPlacement:
    return ContainerPlacement(
        id=spec.id,
        room_id=room_id,
        name=spec.name,
        description=spec.description,
        keywords=tuple(spec.keywords),
        capacity=spec.capacity,
        locked=spec.locked,
        key_prototype_id=spec.key,
        contents=_stacks(spec.contents),
    )


def _npc(spec: NpcSpec) -> NpcDefinition:
    return NpcDefinition(
        id=spec.id,
        name=spec.name,
        description=spec.description,
        keywords=tuple(spec.keywords),
        kind=spec.kind,
        level=spec.level,
        health=spec.health,
        stats=spec.stats.model_dump(),
        xp_value=spec.xp,
        damage=spec.damage,
        armor=spec.armor,
        loot=tuple(LootEntry(loot.item, loot.chance, loot.count) for loot in spec.loot),
        dialogue=Dialogue(
            greeting=spec.dialogue.greeting,
            keywords=dict(spec.dialogue.keywords),
            emotes=tuple(spec.dialogue.emotes),
        ),
        home_zone=spec.home_zone,
        wander_chance=spec.wander.chance,
        wander_min_interval=spec.wander.min_interval,
        flee_below=spec.flee_below,
        lucidity_damage=spec.lucidity_damage,
        respawn_seconds=spec.respawn_seconds,
    )
