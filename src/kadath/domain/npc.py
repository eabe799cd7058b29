"""A living NPC in the world: a definition from the world files plus its changing state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from kadath.domain.world import NpcDefinition


class NpcState(StrEnum):
    IDLE = "idle"
    WANDERING = "wandering"
    FIGHTING = "fighting"
    FLEEING = "fleeing"
    DEAD = "dead"


@dataclass(slots=True)
class NpcInstance:
    id: uuid.UUID
    definition: NpcDefinition
    room_id: str
    health: int
    state: NpcState = NpcState.IDLE
    target_id: uuid.UUID | None = None
    last_moved: float = 0.0
    last_emote: float = 0.0
    spawn_key: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def alive(self) -> bool:
        return self.state is not NpcState.DEAD and self.health > 0
