"""ExplorationRepository: which rooms each player has visited."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.persistence.dialect import insert_ignore
from kadath.persistence.models import ExplorationRow, utcnow


class ExplorationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_visit(self, player_id: uuid.UUID, room_id: str) -> bool:
        """Record a visit; True when it is the player's first time in that room."""
        stmt = insert_ignore(self._session, ExplorationRow.__table__, ["player_id", "room_id"])  # type: ignore[arg-type]
        result = await self._session.execute(
            stmt.values(player_id=player_id, room_id=room_id, first_visited_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def visited_rooms(self, player_id: uuid.UUID) -> set[str]:
        rows = await self._session.scalars(
            sa.select(ExplorationRow.room_id).where(ExplorationRow.player_id == player_id)
        )
        return set(rows)
