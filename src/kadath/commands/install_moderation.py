"""Installing moderation: its services (for the composition root and the web routes) and
its commands."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.commands.base import Command
from kadath.commands.grants import Grants, GrantZone, RevokeZone
from kadath.commands.moderation import (
    Ban,
    Freeze,
    Grant,
    Kick,
    Mute,
    ReportCommand,
    Reports,
    Unban,
    Unfreeze,
    Unmute,
)
from kadath.services.build_grants import GrantService
from kadath.services.game import Game
from kadath.services.moderation import Disconnector, ModerationService
from kadath.services.reports import ReportService
from kadath.services.roles import RoleService


@dataclass(frozen=True)
class ModerationFeature:
    moderation: ModerationService
    reports: ReportService
    roles: RoleService
    grants: GrantService
    commands: list[Command]


def install_moderation(game: Game, disconnector: Disconnector) -> ModerationFeature:
    """Build the moderation services on ``game``'s sanction book; ``disconnector`` (the Hub)
    ends a kicked or banned character's connection."""
    moderation = ModerationService(
        game.uow, game.presence, game.messenger, game.sanctions, game.clock, disconnector
    )
    reports = ReportService(game.uow, game.reading, game.presence, game.messenger, game.clock)
    roles = RoleService(game.uow, game.presence, game.messenger, game.clock)
    grants = GrantService(game.uow, game.grants, game.world, game.clock)
    commands: list[Command] = [
        Kick(moderation),
        Mute(moderation),
        Unmute(moderation),
        Freeze(moderation),
        Unfreeze(moderation),
        Ban(moderation),
        Unban(moderation),
        Grant(roles),
        GrantZone(grants),
        RevokeZone(grants),
        Grants(grants),
        ReportCommand(reports),
        Reports(reports),
    ]
    return ModerationFeature(moderation, reports, roles, grants, commands)
