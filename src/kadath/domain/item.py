"""Item instances, containers and where a thing can be: carried, inside something, or on a floor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class InInventory:
    player_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class InContainer:
    container_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class OnFloor:
    room_id: str


Location = InInventory | InContainer | OnFloor


@dataclass(frozen=True, slots=True)
class ItemInstance:
    id: uuid.UUID
    prototype_id: str
    location: Location
    worn_slot: str | None = None
    created_at: datetime | None = None


class ContainerKind(StrEnum):
    ENVIRONMENT = "environment"
    WEARABLE = "wearable"
    CORPSE = "corpse"


@dataclass(frozen=True, slots=True)
class Container:
    id: uuid.UUID
    kind: ContainerKind
    name: str
    capacity: int
    room_id: str | None = None
    owner_player_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    world_key: str | None = None
    locked: bool = False
    key_prototype_id: str | None = None
    decays_at: datetime | None = None
    created_at: datetime | None = None
    metadata: dict[str, object] = field(default_factory=dict)
