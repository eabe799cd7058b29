"""ProfessionRepository: the professions a character may follow (seeded by the migrations)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.account import Profession
from kadath.domain.errors import ProfessionNotFound
from kadath.persistence.mapping import profession_from_row
from kadath.persistence.models import ProfessionRow


class ProfessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_all_professions(self) -> list[Profession]:
        rows = await self._session.scalars(sa.select(ProfessionRow).order_by(ProfessionRow.id))
        return [profession_from_row(r) for r in rows]

    async def get_profession_by_id(self, profession_id: int) -> Profession:
        """Raises ProfessionNotFound."""
        if isinstance(profession_id, bool) or not isinstance(profession_id, int):
            raise ProfessionNotFound("No such profession.")
        row = await self._session.get(ProfessionRow, profession_id)
        if row is None:
            raise ProfessionNotFound("No such profession.")
        return profession_from_row(row)
