"""Pydantic models mirroring the world's YAML files, one model per file shape.

They check each file on its own; references between files are checked by `consistency`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StringConstraints,
    model_validator,
)

from kadath.domain.world import Direction, ItemKind, NpcKind

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
RoomId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Keyword = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9' -]*$")]
Keywords = Annotated[list[Keyword], Field(min_length=1)]
Chance = Annotated[float, Field(ge=0.0, le=1.0)]
Slot = Literal["head", "body", "back", "hands", "feet", "waist", "wield"]
RoomFlag = Literal["safe", "pvp", "dark", "indoors"]


def _ordered(damage: tuple[int, int]) -> tuple[int, int]:
    low, high = damage
    if low > high:
        raise ValueError(f"minimum {low} is greater than maximum {high}")
    return damage


DamageRange = Annotated[tuple[NonNegativeInt, NonNegativeInt], AfterValidator(_ordered)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StackSpec(_Spec):
    item: Slug
    count: PositiveInt = 1


class ItemSpec(_Spec):
    id: Slug
    name: Text
    description: Text
    keywords: Keywords
    kind: ItemKind = ItemKind.MISC
    weight: NonNegativeInt = 1
    value: NonNegativeInt = 0
    slot: Slot | None = None
    damage: DamageRange | None = None
    armor: NonNegativeInt = 0
    capacity: NonNegativeInt = 0

    @model_validator(mode="after")
    def _kind_fits_fields(self) -> ItemSpec:
        is_weapon = self.kind is ItemKind.WEAPON
        if is_weapon != (self.damage is not None):
            raise ValueError("a weapon needs damage, and only a weapon may have damage")
        if is_weapon and self.slot != "wield":
            raise ValueError("a weapon must use the 'wield' slot")
        if (self.kind is ItemKind.CONTAINER) != (self.capacity > 0):
            raise ValueError("a container needs a positive capacity, and only a container has one")
        if self.armor > 0 and self.slot in (None, "wield"):
            raise ValueError("armor needs a worn slot (not 'wield')")
        return self


class ItemsFile(_Spec):
    items: Annotated[list[ItemSpec], Field(min_length=1)]


class StatsSpec(_Spec):
    strength: PositiveInt
    dexterity: PositiveInt
    constitution: PositiveInt
    intelligence: PositiveInt
    wisdom: PositiveInt
    charisma: PositiveInt


class LootSpec(_Spec):
    item: Slug
    chance: Chance = 1.0
    count: PositiveInt = 1


class DialogueSpec(_Spec):
    greeting: Text | None = None
    keywords: dict[Keyword, Text] = Field(default_factory=dict)
    emotes: list[Text] = Field(default_factory=list)


class WanderSpec(_Spec):
    chance: Chance = 0.0
    min_interval: Annotated[float, Field(gt=0)] = 30.0


class NpcSpec(_Spec):
    id: Slug
    name: Text
    description: Text
    keywords: Keywords
    kind: NpcKind
    level: PositiveInt
    health: PositiveInt
    stats: StatsSpec
    xp: NonNegativeInt
    damage: DamageRange
    armor: NonNegativeInt = 0
    loot: list[LootSpec] = Field(default_factory=list)
    dialogue: DialogueSpec = Field(default_factory=DialogueSpec)
    home_zone: Slug | None = None
    wander: WanderSpec = Field(default_factory=WanderSpec)
    flee_below: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    lucidity_damage: NonNegativeInt = 0
    respawn_seconds: Annotated[float, Field(gt=0)] = 60.0


class NpcsFile(_Spec):
    npcs: Annotated[list[NpcSpec], Field(min_length=1)]


class ContainerSpec(_Spec):
    id: Slug
    name: Text
    description: Text
    keywords: Keywords
    capacity: PositiveInt
    locked: bool = False
    key: Slug | None = None
    contents: list[StackSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _openable_and_fits(self) -> ContainerSpec:
        if self.locked and self.key is None:
            raise ValueError("a locked container needs a key, or nobody can ever open it")
        held = sum(stack.count for stack in self.contents)
        if held > self.capacity:
            raise ValueError(f"contents hold {held} items but capacity is {self.capacity}")
        return self


class RoomSpec(_Spec):
    id: RoomId
    name: Text
    description: Text
    exits: dict[Direction, RoomId] = Field(default_factory=dict)
    flags: list[RoomFlag] = Field(default_factory=list)
    lucidity_cost: NonNegativeInt = 0
    items: list[StackSpec] = Field(default_factory=list)
    containers: list[ContainerSpec] = Field(default_factory=list)


class ZoneSpec(_Spec):
    id: Slug
    name: Text
    description: Text


class SpawnSpec(_Spec):
    npc: Slug
    room: RoomId | None = None
    max: PositiveInt = 1
    chance: Chance = 1.0
    required: bool = False


class ZoneFile(_Spec):
    zone: ZoneSpec
    rooms: Annotated[list[RoomSpec], Field(min_length=1)]
    spawns: list[SpawnSpec] = Field(default_factory=list)


class WorldFile(_Spec):
    name: Text
    start_room: RoomId
