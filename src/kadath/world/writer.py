"""The running world back to its files: checking a changed world as the loader would, and
writing one zone's YAML file (stable order, defaults left out, backup, atomic rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kadath.domain.world import ContainerPlacement, ItemStack, Room, World
from kadath.world.consistency import WorldFiles, WorldProblem, find_problems
from kadath.world.loader import WorldFileError, validation_problems
from kadath.world.schema import (
    ItemsFile,
    ItemSpec,
    LootSpec,
    NpcsFile,
    NpcSpec,
    WorldFile,
    ZoneFile,
)

FOLD_AT = 60  # longer strings are written as folded blocks (``>-``), as the files are authored


def zone_document(world: World, zone_id: str) -> dict[str, Any]:
    """One zone as the plain data of its file: file order, defaults left out."""
    zone = world.zones[zone_id]
    rooms = [_room(world, room) for room in world.rooms.values() if room.zone_id == zone_id]
    spawns = [
        _without_defaults(
            {"npc": s.npc_id, "room": s.room_id, "max": s.max_population, "chance": s.chance},
            {"room": None},
        )
        | ({"required": True} if s.required else {})
        for s in world.spawns
        if s.zone_id == zone_id
    ]
    document: dict[str, Any] = {
        "zone": {"id": zone.id, "name": zone.name, "description": zone.description},
        "rooms": rooms,
    }
    if spawns:
        document["spawns"] = spawns
    return document


def find_world_problems(world: World) -> list[WorldProblem]:
    """What the loader would refuse in ``world``'s zones: each zone file's fields, then the
    references between files (items and NPCs are taken as loaded)."""
    problems: list[WorldProblem] = []
    zones: dict[str, ZoneFile] = {}
    for zone in world.zones.values():
        name = zone.file or f"zones/{zone.id}.yaml"  # a world built in memory has no files
        try:
            zones[name] = ZoneFile.model_validate(zone_document(world, zone.id))
        except ValidationError as exc:
            problems.extend(validation_problems(name, exc))
    if problems:
        return problems
    return find_problems(WorldFiles(_world_file(world), _items(world), _npcs(world), zones))


def render_zone(document: dict[str, Any], header: str = "") -> str:
    """The YAML text of a zone file: a blank line between rooms, short lists inline."""
    body = yaml.dump(
        document, Dumper=_ZoneDumper, sort_keys=False, allow_unicode=True, width=88, indent=2
    )
    lines: list[str] = []
    for line in body.splitlines():
        starts_block = line[:1].isalpha() or line.startswith("  - id: ")
        if starts_block and lines and not lines[-1].endswith(":"):
            lines.append("")
        lines.append(line)
    return header + "\n".join(lines) + "\n"


def write_zone(directory: Path, world: World, zone_id: str) -> Path:
    """Check the world, then write zone ``zone_id`` to its file: the old one kept as
    ``<file>.bak``, the new one written beside it and renamed over it, so the file is never
    left half-written. Raises WorldFileError. Blocking: run it in a thread."""
    problems = find_world_problems(world)
    if problems:
        raise WorldFileError(problems)
    path = directory / world.zones[zone_id].file
    header = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        header = _leading_comments(old)
        path.with_name(path.name + ".bak").write_text(old, encoding="utf-8")
    text = render_zone(zone_document(world, zone_id), header)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


class _ZoneDumper(yaml.SafeDumper):
    """Lists of plain words inline (``flags: [safe, indoors]``), long text folded."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # list items indented under their key


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = ">" if len(value) > FOLD_AT and "\n" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    inline = all(isinstance(v, str) and len(v) <= FOLD_AT for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=inline)


_ZoneDumper.add_representer(str, _represent_str)
_ZoneDumper.add_representer(list, _represent_list)


def _leading_comments(text: str) -> str:
    kept = []
    for line in text.splitlines():
        if not (line.startswith("#") or not line.strip()):
            break
        kept.append(line)
    return "\n".join(kept).strip("\n") + "\n\n" if kept and any(kept) else ""


def _room(world: World, room: Room) -> dict[str, Any]:
    data: dict[str, Any] = {"id": room.id, "name": room.name, "description": room.description}
    if room.exits:
        data["exits"] = {direction.value: target for direction, target in room.exits.items()}
    if room.flags:
        data["flags"] = sorted(room.flags)
    if room.lucidity_cost:
        data["lucidity_cost"] = room.lucidity_cost
    if room.items:
        data["items"] = _stacks(room.items)
    containers = [c for c in world.containers.values() if c.room_id == room.id]
    if containers:
        data["containers"] = [_container(c) for c in containers]
    return data


def _container(placement: ContainerPlacement) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": placement.id,
        "name": placement.name,
        "description": placement.description,
        "keywords": list(placement.keywords),
        "capacity": placement.capacity,
    }
    if placement.locked:
        data["locked"] = True
    if placement.key_prototype_id is not None:
        data["key"] = placement.key_prototype_id
    if placement.contents:
        data["contents"] = _stacks(placement.contents)
    return data


def _stacks(stacks: tuple[ItemStack, ...]) -> list[dict[str, Any]]:
    return [{"item": s.prototype_id} | ({"count": s.count} if s.count != 1 else {}) for s in stacks]


def _without_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in defaults or defaults[k] != v}


# Items and NPCs are not edited in the game: the cross-check only reads their ids, kinds,
# loot and home zones, so they are rebuilt without re-validating what the loader accepted.
def _world_file(world: World) -> WorldFile:
    return WorldFile.model_construct(name=world.name, start_room=world.start_room_id)


def _items(world: World) -> ItemsFile:
    items = [
        ItemSpec.model_construct(**_fields(id=i.id, kind=i.kind)) for i in world.items.values()
    ]
    return ItemsFile.model_construct(items=items)


def _npcs(world: World) -> NpcsFile:
    npcs = [
        NpcSpec.model_construct(
            **_fields(
                id=n.id,
                home_zone=n.home_zone,
                loot=[LootSpec.model_construct(item=loot.prototype_id) for loot in n.loot],
            )
        )
        for n in world.npcs.values()
    ]
    return NpcsFile.model_construct(npcs=npcs)


def _fields(**values: Any) -> dict[str, Any]:
    return values
