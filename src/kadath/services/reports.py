"""Player reports and the moderators' queue, and reading the audit log."""

from __future__ import annotations

from collections.abc import Callable

from kadath.domain.account import Role
from kadath.domain.errors import InvalidInput, PlayerNotFound, RateLimited
from kadath.domain.moderation import (
    MAX_REPORT,
    AuditAction,
    AuditEntry,
    AuditFilter,
    Report,
    clean_text,
)
from kadath.domain.player import Player, name_key
from kadath.domain.ratelimit import KeyedLimiter, parse_rate
from kadath.services import messenger as frames
from kadath.services.clock import Clock
from kadath.services.messenger import Messenger
from kadath.services.moderation import Actor, ModerationElsewhere
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork


class ReportService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        reading: Callable[[], UnitOfWork],
        presence: Presence,
        messenger: Messenger,
        clock: Clock,
        rate: str = "5/hour",
    ) -> None:
        self._uow, self._reading, self._presence = uow, reading, presence
        self._messenger, self._clock = messenger, clock
        self._limiter = KeyedLimiter(*parse_rate(rate))
        self.elsewhere: ModerationElsewhere | None = None  # set by ``kadath serve --cluster``

    async def report(self, reporter: Player, name: str, text: str) -> Report:
        """Raises PlayerNotFound, InvalidInput, RateLimited."""
        text = clean_text(text, MAX_REPORT, "report")
        if not text:
            raise InvalidInput("Say what happened: report <player> <what they did>.")
        if name_key(name) == name_key(reporter.name):
            raise InvalidInput("You cannot report yourself.")
        if not self._limiter.allow(str(reporter.account_id), self._clock.monotonic()):
            raise RateLimited("You have sent many reports lately; a moderator will read them.")
        now = self._clock.now()
        async with self._uow() as uow:
            try:
                target = await uow.players.get_player_by_name(name)
            except PlayerNotFound:
                raise PlayerNotFound(f"There is no character called {name[:20]}.") from None
            reporter_ref = (reporter.account_id, reporter.name)
            target_ref = (target.account_id, target.name)
            report = await uow.moderation.add_report(reporter_ref, target_ref, text, now)
            detail = f"#{report.id}: {text}"
            await uow.moderation.audit(AuditAction.REPORT, reporter_ref, target_ref, detail, now)
        notice = f"[Report #{report.id}] {reporter.name} reports {target.name}: {text}"
        self.notify_staff(notice)
        if self.elsewhere is not None:
            await self.elsewhere.staff_notice(notice)
        return report

    def notify_staff(self, notice: str) -> None:
        """Show ``notice`` to the moderators (and admins) in play here."""
        for player in self._presence.all():
            if player.role.at_least(Role.MODERATOR):
                self._messenger.to_player(player.id, frames.message("system", notice))

    async def open_reports(self) -> list[Report]:
        async with self._reading() as uow:
            return await uow.moderation.open_reports()

    async def close(self, actor: Actor, report_id: int) -> Report:
        """Raises NotFound."""
        now = self._clock.now()
        async with self._uow() as uow:
            report = await uow.moderation.close_report(report_id, actor.name, now)
            await uow.moderation.audit(
                AuditAction.REPORT_CLOSE, actor.ref, (None, report.target), f"#{report_id}", now
            )
        return report

    async def audit_log(self, where: AuditFilter) -> list[AuditEntry]:
        async with self._reading() as uow:
            return await uow.moderation.audit_log(where)
