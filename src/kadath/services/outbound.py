"""The two ways news leaves a use case: frames to players and events to subscribers."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.services.events import EventBus
from kadath.services.messenger import Messenger


@dataclass(frozen=True)
class Outbound:
    messenger: Messenger
    bus: EventBus
