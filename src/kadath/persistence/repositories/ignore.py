"""IgnoreRepository: which characters each character ignores."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.persistence.dialect import insert_ignore
from kadath.persistence.models import IgnoreRow, PlayerRow, utcnow


class IgnoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ignored(self, player_id: uuid.UUID) -> dict[uuid.UUID, str]:
        """The characters ``player_id`` ignores: id → name."""
        rows = await self._session.execute(
            sa.select(IgnoreRow.ignored_id, PlayerRow.name)
            .join(PlayerRow, PlayerRow.id == IgnoreRow.ignored_id)
            .where(IgnoreRow.player_id == player_id)
        )
        return {row.ignored_id: row.name for row in rows}

    async def ignore(self, player_id: uuid.UUID, ignored_id: uuid.UUID) -> bool:
        """Record it; False when it was already recorded."""
        stmt = insert_ignore(self._session, IgnoreRow.__table__, ["player_id", "ignored_id"])  # type: ignore[arg-type]
        result = await self._session.execute(
            stmt.values(player_id=player_id, ignored_id=ignored_id, created_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unignore(self, player_id: uuid.UUID, ignored_id: uuid.UUID) -> bool:
        """Forget it; False when there was nothing to forget."""
        result = await self._session.execute(
            sa.delete(IgnoreRow).where(
                IgnoreRow.player_id == player_id, IgnoreRow.ignored_id == ignored_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
