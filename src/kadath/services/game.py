"""The services a command may call, gathered once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kadath.domain.rng import Rng
from kadath.domain.world import World
from kadath.persistence.uow import UnitOfWork
from kadath.services.chat import ChatService
from kadath.services.clock import Clock
from kadath.services.events import EventBus
from kadath.services.messenger import Messenger
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber


@dataclass
class Game:
    world: World
    presence: Presence
    npcs: NpcRoster
    messenger: Messenger
    bus: EventBus
    clock: Clock
    rng: Rng
    uow: Callable[[], UnitOfWork]
    reading: Callable[[], UnitOfWork]  # units of work that only read
    rooms: RoomDescriber
    movement: MovementService
    chat: ChatService
    # Features added later register themselves here by name (inventory, combat, …).
    features: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0

    def feature(self, name: str) -> Any:
        return self.features[name]
