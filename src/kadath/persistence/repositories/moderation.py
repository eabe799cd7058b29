"""ModerationRepository: sanctions in force, the report queue and the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.errors import NotFound
from kadath.domain.moderation import (
    AuditAction,
    AuditEntry,
    AuditFilter,
    Report,
    Sanction,
    SanctionKind,
)
from kadath.persistence.models import AuditRow, ReportRow, SanctionRow


class ModerationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_sanction(
        self,
        account_id: uuid.UUID,
        kind: SanctionKind,
        reason: str,
        *,
        by: uuid.UUID | None,
        now: datetime,
        ends_at: datetime | None,
    ) -> Sanction:
        """A new sanction; any earlier one of the same kind on the account is lifted."""
        await self.lift(account_id, kind, now)
        row = SanctionRow(
            account_id=account_id,
            kind=kind.value,
            reason=reason,
            created_by=by,
            created_at=now,
            ends_at=ends_at,
        )
        self._session.add(row)
        await self._session.flush()
        return _sanction(row)

    async def lift(self, account_id: uuid.UUID, kind: SanctionKind, now: datetime) -> int:
        """Lift the account's sanctions of ``kind`` in force; how many there were."""
        result = await self._session.execute(
            sa.update(SanctionRow)
            .where(SanctionRow.account_id == account_id, SanctionRow.kind == kind.value)
            .where(_in_force(now))
            .values(lifted_at=now)
            .returning(SanctionRow.id)
        )
        return len(result.all())

    async def in_force(
        self, now: datetime, *, account_id: uuid.UUID | None = None
    ) -> list[Sanction]:
        """Every sanction in force (of one account, when given)."""
        stmt = sa.select(SanctionRow).where(_in_force(now)).order_by(SanctionRow.created_at)
        if account_id is not None:
            stmt = stmt.where(SanctionRow.account_id == account_id)
        return [_sanction(r) for r in await self._session.scalars(stmt)]

    async def add_report(
        self,
        reporter: tuple[uuid.UUID, str],
        target: tuple[uuid.UUID | None, str],
        text: str,
        now: datetime,
    ) -> Report:
        row = ReportRow(
            reporter_account_id=reporter[0],
            reporter=reporter[1],
            target_account_id=target[0],
            target=target[1],
            text=text,
            created_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return _report(row)

    async def open_reports(self, limit: int = 50) -> list[Report]:
        rows = await self._session.scalars(
            sa.select(ReportRow)
            .where(ReportRow.closed_at.is_(None))
            .order_by(ReportRow.id)
            .limit(limit)
        )
        return [_report(r) for r in rows]

    async def close_report(self, report_id: int, by: str, now: datetime) -> Report:
        """Raises NotFound when there is no such open report."""
        row = await self._session.scalar(
            sa.update(ReportRow)
            .where(ReportRow.id == report_id, ReportRow.closed_at.is_(None))
            .values(closed_by=by, closed_at=now)
            .returning(ReportRow)
        )
        if row is None:
            raise NotFound(f"There is no open report #{report_id}.")
        return _report(row)

    async def audit(
        self,
        action: AuditAction,
        actor: tuple[uuid.UUID | None, str],
        target: tuple[uuid.UUID | None, str],
        detail: str,
        now: datetime,
    ) -> None:
        self._session.add(
            AuditRow(
                at=now,
                actor=actor[1],
                actor_account_id=actor[0],
                action=action.value,
                target=target[1],
                target_account_id=target[0],
                detail=detail[:500],
            )
        )
        await self._session.flush()

    async def audit_log(self, where: AuditFilter) -> list[AuditEntry]:
        """The newest entries first."""
        stmt = sa.select(AuditRow).order_by(AuditRow.id.desc()).limit(where.limit)
        if where.actor:
            stmt = stmt.where(sa.func.lower(AuditRow.actor) == where.actor.lower())
        if where.target:
            stmt = stmt.where(sa.func.lower(AuditRow.target) == where.target.lower())
        if where.action:
            stmt = stmt.where(AuditRow.action == where.action.value)
        if where.since:
            stmt = stmt.where(AuditRow.at >= where.since)
        rows = await self._session.scalars(stmt)
        return [
            AuditEntry(r.id, r.at, r.actor, AuditAction(r.action), r.target, r.detail) for r in rows
        ]


def _in_force(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        SanctionRow.lifted_at.is_(None),
        sa.or_(SanctionRow.ends_at.is_(None), SanctionRow.ends_at > now),
    )


def _sanction(row: SanctionRow) -> Sanction:
    return Sanction(
        id=row.id,
        account_id=row.account_id,
        kind=SanctionKind(row.kind),
        reason=row.reason,
        created_at=row.created_at,
        ends_at=row.ends_at,
    )


def _report(row: ReportRow) -> Report:
    return Report(
        id=row.id,
        reporter=row.reporter,
        target=row.target,
        text=row.text,
        created_at=row.created_at,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
    )
