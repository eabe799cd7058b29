"""BuildGrantRepository: which accounts may build in which zones."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kadath.domain.build_grant import BuildGrant, GrantListing
from kadath.persistence.dialect import insert_ignore
from kadath.persistence.models import AccountRow, BuildGrantRow


class BuildGrantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, account_id: uuid.UUID, zone_id: str, *, by: uuid.UUID | None, now: datetime
    ) -> BuildGrant | None:
        """The new grant; None when the account already had it (an ``INSERT … ON CONFLICT DO
        NOTHING``, so two admins granting at once both succeed)."""
        table = cast(sa.Table, BuildGrantRow.__table__)
        stmt = insert_ignore(self._session, table, ["account_id", "zone_id"]).values(
            account_id=account_id, zone_id=zone_id, granted_by=by, granted_at=now
        )
        result = await self._session.execute(stmt)
        if not cast(CursorResult[Any], result).rowcount:
            return None
        return BuildGrant(account_id, zone_id, by, now)

    async def remove(self, account_id: uuid.UUID, zone_id: str) -> bool:
        """Whether there was such a grant."""
        result = await self._session.execute(
            sa.delete(BuildGrantRow)
            .where(BuildGrantRow.account_id == account_id, BuildGrantRow.zone_id == zone_id)
            .returning(BuildGrantRow.zone_id)
        )
        return len(result.all()) > 0

    async def all(self) -> list[BuildGrant]:
        """Every grant."""
        return [_grant(r) for r in await self._session.scalars(sa.select(BuildGrantRow))]

    async def listing(self, account_id: uuid.UUID | None = None) -> list[GrantListing]:
        """Every grant (of one account, when given) with the names, by account and zone."""
        holder, granter = aliased(AccountRow), aliased(AccountRow)
        stmt = (
            sa.select(BuildGrantRow, holder.username, granter.username)
            .join(holder, holder.id == BuildGrantRow.account_id)
            .outerjoin(granter, granter.id == BuildGrantRow.granted_by)
            .order_by(holder.username_key, BuildGrantRow.zone_id)
        )
        if account_id is not None:
            stmt = stmt.where(BuildGrantRow.account_id == account_id)
        rows = await self._session.execute(stmt)
        return [GrantListing(name, by, _grant(row)) for row, name, by in rows]


def _grant(row: BuildGrantRow) -> BuildGrant:
    return BuildGrant(row.account_id, row.zone_id, row.granted_by, row.granted_at)
