"""The authored world as the game sees it: zones, rooms, exits, item and NPC prototypes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class Direction(StrEnum):
    NORTH = "north"
    SOUTH = "south"
    EAST = "east"
    WEST = "west"
    NORTHEAST = "northeast"
    NORTHWEST = "northwest"
    SOUTHEAST = "southeast"
    SOUTHWEST = "southwest"
    UP = "up"
    DOWN = "down"

    @property
    def opposite(self) -> Direction:
        return _OPPOSITES[self]

    @property
    def arrival(self) -> str:
        """Where someone who walked this way seems to come from: "from the south"."""
        if self is Direction.UP:
            return "from below"
        if self is Direction.DOWN:
            return "from above"
        return f"from the {self.opposite.value}"


_OPPOSITES = {
    Direction.NORTH: Direction.SOUTH,
    Direction.SOUTH: Direction.NORTH,
    Direction.EAST: Direction.WEST,
    Direction.WEST: Direction.EAST,
    Direction.NORTHEAST: Direction.SOUTHWEST,
    Direction.SOUTHWEST: Direction.NORTHEAST,
    Direction.NORTHWEST: Direction.SOUTHEAST,
    Direction.SOUTHEAST: Direction.NORTHWEST,
    Direction.UP: Direction.DOWN,
    Direction.DOWN: Direction.UP,
}


class ItemKind(StrEnum):
    MISC = "misc"
    WEAPON = "weapon"
    ARMOR = "armor"
    CONTAINER = "container"
    KEY = "key"
    CONSUMABLE = "consumable"


class NpcKind(StrEnum):
    PASSIVE = "passive"
    AGGRESSIVE = "aggressive"
    SHOPKEEPER = "shopkeeper"
    QUESTGIVER = "questgiver"


@dataclass(frozen=True, slots=True)
class ItemStack:
    """A count of one item prototype, as placed by the world files or dropped as loot."""

    prototype_id: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class LootEntry:
    prototype_id: str
    chance: float = 1.0
    count: int = 1


@dataclass(frozen=True, slots=True)
class ItemPrototype:
    id: str
    name: str
    description: str
    keywords: tuple[str, ...]
    kind: ItemKind = ItemKind.MISC
    weight: int = 1
    value: int = 0
    slot: str | None = None
    damage: tuple[int, int] | None = None
    armor: int = 0
    capacity: int = 0

    @property
    def wearable(self) -> bool:
        return self.slot is not None

    def matches(self, word: str) -> bool:
        word = word.lower()
        return any(k.startswith(word) for k in self.keywords) or self.name.lower() == word


@dataclass(frozen=True, slots=True)
class ContainerPlacement:
    """An environmental container the world files put in a room (a chest, a cabinet)."""

    id: str
    room_id: str
    name: str
    description: str
    keywords: tuple[str, ...]
    capacity: int
    locked: bool = False
    key_prototype_id: str | None = None
    contents: tuple[ItemStack, ...] = ()


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    zone_id: str
    name: str
    description: str
    exits: dict[Direction, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    lucidity_cost: int = 0
    items: tuple[ItemStack, ...] = ()

    @property
    def safe(self) -> bool:
        return "safe" in self.flags

    @property
    def pvp(self) -> bool:
        return "pvp" in self.flags


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    description: str
    file: str = ""  # the zone file it came from, relative to the world directory


@dataclass(frozen=True, slots=True)
class HelpTopic:
    """A help page shipped with the world (``help/<name>.md``)."""

    name: str
    title: str
    text: str

    def mentions(self, word: str) -> bool:
        word = word.casefold()
        return word in self.name.casefold() or word in self.text.casefold()


@dataclass(frozen=True, slots=True)
class Dialogue:
    greeting: str | None = None
    keywords: dict[str, str] = field(default_factory=dict)
    emotes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NpcDefinition:
    id: str
    name: str
    description: str
    keywords: tuple[str, ...]
    kind: NpcKind
    level: int
    health: int
    stats: dict[str, int]
    xp_value: int
    damage: tuple[int, int]
    armor: int = 0
    loot: tuple[LootEntry, ...] = ()
    dialogue: Dialogue = field(default_factory=Dialogue)
    home_zone: str | None = None
    wander_chance: float = 0.0
    wander_min_interval: float = 30.0
    flee_below: float = 0.0
    lucidity_damage: int = 0
    respawn_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class SpawnRule:
    npc_id: str
    zone_id: str
    room_id: str | None
    max_population: int
    chance: float
    required: bool = False


@dataclass(slots=True)
class World:
    """Everything the world files describe, validated and cross-checked.

    One object for the whole run: a reload or a builder's change replaces its contents in
    place (``adopt``), so every service holding it sees the new world at once."""

    zones: dict[str, Zone]
    rooms: dict[str, Room]
    items: dict[str, ItemPrototype]
    containers: dict[str, ContainerPlacement]
    npcs: dict[str, NpcDefinition]
    spawns: tuple[SpawnRule, ...]
    start_room_id: str
    name: str = "Kadath"
    help: dict[str, HelpTopic] = field(default_factory=dict)
    # Counts the adoptions (reloads, builders' changes): what is worked out from the world and
    # kept (``help``'s list, ``explored``'s totals) is kept for one version.
    version: int = 0

    def rooms_in_zone(self, zone_id: str) -> list[Room]:
        return [r for r in self.rooms.values() if r.zone_id == zone_id]

    def adopt(self, other: World) -> None:
        """Take ``other``'s contents, keeping this object (and its dicts) in place."""
        _refill(self.zones, other.zones)
        _refill(self.rooms, other.rooms)
        _refill(self.items, other.items)
        _refill(self.containers, other.containers)
        _refill(self.npcs, other.npcs)
        _refill(self.help, other.help)
        self.spawns, self.start_room_id, self.name = other.spawns, other.start_room_id, other.name
        self.version += 1

    def copy(self) -> World:
        """A world with the same contents in new dicts (to change and check before adopting)."""
        return World(
            dict(self.zones),
            dict(self.rooms),
            dict(self.items),
            dict(self.containers),
            dict(self.npcs),
            self.spawns,
            self.start_room_id,
            self.name,
            dict(self.help),
        )


def _refill(mine: dict[str, T], theirs: dict[str, T]) -> None:
    fresh = dict(theirs)  # ``theirs`` may be ``mine``
    mine.clear()
    mine.update(fresh)
