"""The realm a use case acts in: the world's map and who is in it right now (in memory)."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.domain.world import World
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence


@dataclass(frozen=True)
class Realm:
    world: World
    presence: Presence
    npcs: NpcRoster
