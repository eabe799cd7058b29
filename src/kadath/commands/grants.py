"""Zone grants: admins give builders the zones they may build in (docs/building.md)."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.account import Role
from kadath.services.build_grants import GrantService
from kadath.services.moderation import Actor


class _Granting(Command):
    required_role = Role.ADMIN
    category = "moderation"

    def __init__(self, grants: GrantService) -> None:
        self._grants = grants


class GrantZone(_Granting):
    """Let an account (by username, or one of its characters' names) build in a zone."""

    names = ("grant",)
    usage = "grant <account> <zone id>"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) != 2:
            raise self.usage_error()
        account, new = await self._grants.grant(Actor.of_player(ctx.player), *words)
        zone = self._grants.zone_name(words[1])
        if not new:
            return f"{account.username} may already build in {zone}."
        return f"{account.username} may now build in {zone}."


class RevokeZone(_Granting):
    """Take back an account's grant of a zone."""

    names = ("revoke",)
    usage = "revoke <account> <zone id>"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) != 2:
            raise self.usage_error()
        account, had = await self._grants.revoke(Actor.of_player(ctx.player), *words)
        zone = self._grants.zone_name(words[1])
        if not had:
            return f"{account.username} had no grant of {zone}."
        return f"{account.username} may no longer build in {zone}."


class Grants(_Granting):
    """List the zone grants, of every account or of one."""

    names = ("grants",)
    usage = "grants [account]"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) > 1:
            raise self.usage_error()
        listed = await self._grants.of(Actor.of_player(ctx.player), words[0] if words else None)
        if not listed:
            return "No zone grants."
        lines = [
            f"{g.username}: {g.grant.zone_id} ({self._grants.zone_name(g.grant.zone_id)}), "
            f"granted by {g.granted_by or 'someone gone'}"
            for g in listed
        ]
        return "Zone grants:\n" + "\n".join(lines)
