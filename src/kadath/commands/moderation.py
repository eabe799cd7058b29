"""Moderation commands: kick, mute, freeze, ban (and their undoing), role, report, reports.

Moderators (and admins) kick, mute and freeze and read the report queue; only admins ban and
grant roles; anyone may report. See docs/moderation.md."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.account import Role
from kadath.domain.errors import Forbidden
from kadath.services.moderation import Actor, ModerationService
from kadath.services.reports import ReportService
from kadath.services.roles import RoleService

REPORTS_SHOWN = 20


class _Moderating(Command):
    required_role = Role.MODERATOR
    category = "moderation"

    def __init__(self, moderation: ModerationService) -> None:
        self._moderation = moderation


class Kick(_Moderating):
    """Disconnect a character at once; it is saved and leaves the world."""

    names = ("kick",)
    usage = "kick <player> [reason]"

    async def run(self, ctx: Context) -> str:
        name, _, reason = ctx.args.partition(" ")
        if not name:
            raise self.usage_error()
        return await self._moderation.kick(Actor.of_player(ctx.player), name, reason)


class Mute(_Moderating):
    """Stop a player's account speaking (say, emote, whisper, channels) for a while:
    30s, 10m, 2h, 1d, 1w or 1h30m."""

    names = ("mute",)
    usage = "mute <player> <duration> [reason]"

    async def run(self, ctx: Context) -> str:
        words = ctx.args.split(maxsplit=2)
        if len(words) < 2:
            raise self.usage_error()
        reason = words[2] if len(words) > 2 else ""
        return await self._moderation.mute(Actor.of_player(ctx.player), words[0], words[1], reason)


class Unmute(_Moderating):
    """Let a muted player speak again."""

    names = ("unmute",)
    usage = "unmute <player>"

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        return await self._moderation.unmute(Actor.of_player(ctx.player), ctx.args)


class Freeze(_Moderating):
    """Freeze a player's account until unfrozen: it can only look, ask for help or quit."""

    names = ("freeze",)
    usage = "freeze <player> [reason]"

    async def run(self, ctx: Context) -> str:
        name, _, reason = ctx.args.partition(" ")
        if not name:
            raise self.usage_error()
        return await self._moderation.freeze(Actor.of_player(ctx.player), name, reason)


class Unfreeze(_Moderating):
    """Let a frozen player act again."""

    names = ("unfreeze", "thaw")
    usage = "unfreeze <player>"

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        return await self._moderation.unfreeze(Actor.of_player(ctx.player), ctx.args)


class Ban(_Moderating):
    """Ban an account (by username, or by one of its characters' names): it cannot log in
    or connect, and its characters online are disconnected at once."""

    names = ("ban",)
    usage = "ban <account> <duration|forever> <reason>"
    required_role = Role.ADMIN

    async def run(self, ctx: Context) -> str:
        words = ctx.args.split(maxsplit=2)
        if len(words) < 3:
            raise self.usage_error()
        return await self._moderation.ban(Actor.of_player(ctx.player), *words)


class Unban(_Moderating):
    """Lift an account's ban."""

    names = ("unban",)
    usage = "unban <account>"
    required_role = Role.ADMIN

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        return await self._moderation.unban(Actor.of_player(ctx.player), ctx.args)


class Grant(Command):
    """Give an account (by username, or by one of its characters' names) a role: player,
    builder, moderator or admin. Not your own."""

    names = ("role",)
    usage = "role <account> <player|builder|moderator|admin>"
    required_role = Role.ADMIN
    category = "moderation"

    def __init__(self, roles: RoleService) -> None:
        self._roles = roles

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) != 2:
            raise self.usage_error()
        account = await self._roles.grant(
            Actor.of_player(ctx.player), words[0], Role.parse(words[1])
        )
        return f"The account {account.username} is now {account.role.value}."


class ReportCommand(Command):
    """Report a player's behaviour to the moderators. Moderators: report close <id>."""

    names = ("report",)
    usage = "report <player> <what happened>"
    category = "talk"

    def __init__(self, reports: ReportService) -> None:
        self._reports = reports

    async def run(self, ctx: Context) -> str:
        name, _, text = ctx.args.partition(" ")
        if name.lower() == "close" and text.strip().lstrip("#").isdigit():
            if not ctx.player.role.at_least(Role.MODERATOR):
                raise Forbidden("Only moderators and admins close reports.")
            report_id = int(text.strip().lstrip("#"))
            await self._reports.close(Actor.of_player(ctx.player), report_id)
            return f"Report #{report_id} is closed."
        if not name or not text.strip():
            raise self.usage_error()
        report = await self._reports.report(ctx.player, name, text)
        return f"Thank you: your report (#{report.id}) is with the moderators."


class Reports(Command):
    """The open reports, oldest first; close one with: report close <id>."""

    names = ("reports",)
    usage = "reports"
    required_role = Role.MODERATOR
    category = "moderation"

    def __init__(self, reports: ReportService) -> None:
        self._reports = reports

    async def run(self, ctx: Context) -> str:
        reports = await self._reports.open_reports()
        if not reports:
            return "No open reports."
        lines = [f"{len(reports)} open report(s):"]
        for r in reports[:REPORTS_SHOWN]:
            at = r.created_at.strftime("%m-%d %H:%M")
            lines.append(f"  #{r.id} {at} {r.reporter} on {r.target}: {r.text}")
        return "\n".join(lines)
