"""Repositories: build queries, map rows to domain objects, never commit."""

from kadath.persistence.repositories.account import AccountRepository
from kadath.persistence.repositories.build_grant import BuildGrantRepository
from kadath.persistence.repositories.channel import ChannelRepository
from kadath.persistence.repositories.container import ContainerRepository
from kadath.persistence.repositories.experience import ExperienceGain, ExperienceRepository
from kadath.persistence.repositories.exploration import ExplorationRepository
from kadath.persistence.repositories.health import HealthRepository
from kadath.persistence.repositories.ignore import IgnoreRepository
from kadath.persistence.repositories.item import ItemRepository
from kadath.persistence.repositories.moderation import ModerationRepository
from kadath.persistence.repositories.player import PlayerRepository
from kadath.persistence.repositories.profession import ProfessionRepository
from kadath.persistence.repositories.room import RoomRepository

__all__ = [
    "AccountRepository",
    "BuildGrantRepository",
    "ChannelRepository",
    "ContainerRepository",
    "ExperienceGain",
    "ExperienceRepository",
    "ExplorationRepository",
    "HealthRepository",
    "IgnoreRepository",
    "ItemRepository",
    "ModerationRepository",
    "PlayerRepository",
    "ProfessionRepository",
    "RoomRepository",
]
