"""The services every command may call, gathered once by the composition root.

Features installed on top (items, NPCs, combat) are not registered here: the composition root
passes each service to the commands and services that use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kadath.domain.rng import Rng
from kadath.domain.world import World
from kadath.services.build_grants import GrantBook
from kadath.services.chat import ChatService
from kadath.services.clock import Clock
from kadath.services.events import EventBus
from kadath.services.held_zones import HeldZones
from kadath.services.messenger import Messenger
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber
from kadath.services.sanctions import SanctionBook, SanctionCheck
from kadath.services.unit_of_work import UnitOfWork


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
    # Profession names by id, for the welcome; read from the database once at start-up.
    professions: dict[int, str] = field(default_factory=dict)
    started_at: float = 0.0
    # Mutes and freezes in force (loaded at start-up by the composition root).
    sanctions: SanctionBook = field(init=False)
    # The zones granted to builders (loaded at start-up by the composition root).
    grants: GrantBook = field(default_factory=GrantBook)
    # The zones whose NPCs, fights and per-zone steps run here (a cluster node replaces it
    # with ``HeldZones.none`` before the features are installed).
    zones: HeldZones = field(init=False)

    def __post_init__(self) -> None:
        self.sanctions = SanctionBook(self.presence, self.clock)
        self.zones = HeldZones.every(self.world)

    @property
    def mutes(self) -> SanctionCheck:
        """``game.mutes.check(player_id)``: every kind of speech calls it first."""
        return self.sanctions.mutes
