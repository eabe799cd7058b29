"""Everything a running server holds, built by the composition root and read by the routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kadath.commands.base import Dispatcher
from kadath.commands.install_moderation import ModerationFeature
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.realtime.connection import ConnectionHandler
from kadath.realtime.hub import Hub
from kadath.services.auth import AuthService
from kadath.services.channel_history import ChannelHistory
from kadath.services.channels import ChannelService
from kadath.services.characters import CharacterService
from kadath.services.combat import CombatService
from kadath.services.entry import WorldEntry
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop
from kadath.services.world_reload import WorldReloader
from kadath.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


def _none_open() -> int:
    return 0


@dataclass
class Runtime:
    settings: Settings
    persistence: AsyncPersistenceLayer
    game: Game
    auth: AuthService
    characters: CharacterService
    hub: Hub
    entry: WorldEntry
    dispatcher: Dispatcher
    connections: ConnectionHandler
    loop: GameLoop
    combat: CombatService
    reloader: WorldReloader
    moderation: ModerationFeature
    channel_history: ChannelHistory
    channels: ChannelService
    registry: CollectorRegistry | None = None  # built by the first /metrics scrape
    telnet_port: int | None = None  # where MUD clients connect, once listening
    # telnet connections open, signed in or not (set once telnet listens)
    telnet_connections: Callable[[], int] = _none_open
    startup_phases: dict[str, float] = field(default_factory=dict)  # ms per start-up phase
