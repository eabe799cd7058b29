"""Things that happened, told to whoever listens after the change is committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlayerEnteredRoom:
    player_id: uuid.UUID
    room_id: str
    from_room_id: str | None


@dataclass(frozen=True, slots=True)
class PlayerLeftRoom:
    player_id: uuid.UUID
    room_id: str
    to_room_id: str | None


@dataclass(frozen=True, slots=True)
class PlayerSpoke:
    player_id: uuid.UUID
    room_id: str
    text: str


@dataclass(frozen=True, slots=True)
class PlayerLoggedIn:
    player_id: uuid.UUID
    room_id: str


@dataclass(frozen=True, slots=True)
class PlayerLoggedOut:
    player_id: uuid.UUID
    room_id: str


@dataclass(frozen=True, slots=True)
class PlayerDied:
    player_id: uuid.UUID
    room_id: str
    corpse_id: uuid.UUID | None
    killer: str | None


@dataclass(frozen=True, slots=True)
class ExperienceGained:
    player_id: uuid.UUID
    amount: int
    level: int
    leveled_up: bool


@dataclass(frozen=True, slots=True)
class NpcKilled:
    npc_id: uuid.UUID
    definition_id: str
    room_id: str
    killer_id: uuid.UUID | None
    spawn_key: str | None


@dataclass(frozen=True, slots=True)
class CombatEnded:
    combatant_ids: tuple[uuid.UUID, ...]
    room_id: str
    reason: str


Event = (
    PlayerEnteredRoom
    | PlayerLeftRoom
    | PlayerSpoke
    | PlayerLoggedIn
    | PlayerLoggedOut
    | PlayerDied
    | ExperienceGained
    | NpcKilled
    | CombatEnded
)
