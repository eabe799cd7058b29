"""HealthRepository: damage and healing as single clamped ``UPDATE … RETURNING`` statements.

Each change is computed by the database from the row's current value, so any number of
concurrent writers lose no update, and health never leaves ``[HEALTH_FLOOR, max_health]``.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kadath.domain.errors import InvalidAmount, InvalidInput, PlayerNotFound
from kadath.domain.player import HEALTH_FLOOR, MAX_AMOUNT, Player, validate_amount
from kadath.persistence.models import PlayerRow

_REASON_MAX = 64


class HealthRepository:
    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        # A unit of work's session, or a bare connection for the facade's lone calls.
        self._session = session

    async def damage_player(self, player: Player, amount: int, damage_type: str) -> int:
        """Take ``amount`` health, never below the floor; returns the new value (``player`` is
        not changed). Raises InvalidAmount, PlayerNotFound."""
        validate_amount(amount)
        check_reason(damage_type)
        return await self._apply(player.id, -amount)

    async def heal_player(self, player: Player, amount: int) -> int:
        """Give back ``amount`` health, never above max health; returns the new value (``player``
        is not changed). Raises InvalidAmount, PlayerNotFound."""
        validate_amount(amount)
        return await self._apply(player.id, amount)

    async def update_player_health(self, player_id: uuid.UUID, delta: int, reason: str) -> int:
        """Add ``delta`` (negative to harm) to health, clamped; returns the new value.
        Raises InvalidAmount, PlayerNotFound."""
        if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_AMOUNT:
            raise InvalidAmount(f"A health change must be a whole number within ±{MAX_AMOUNT}.")
        check_reason(reason)
        return await self._apply(player_id, delta)

    async def set_health(self, player_id: uuid.UUID, health: int) -> int:
        """Set health outright (respawn), clamped to the allowed range. Raises PlayerNotFound."""
        column = sa.case(
            (sa.literal(health) > PlayerRow.max_health, PlayerRow.max_health),
            (sa.literal(health) < HEALTH_FLOOR, HEALTH_FLOOR),
            else_=sa.literal(health),
        )
        return await self._update(player_id, column)

    async def _apply(self, player_id: uuid.UUID, delta: int) -> int:
        raw = PlayerRow.health + delta
        column = sa.case(
            (raw > PlayerRow.max_health, PlayerRow.max_health),
            (raw < HEALTH_FLOOR, HEALTH_FLOOR),
            else_=raw,
        )
        return await self._update(player_id, column)

    async def _update(self, player_id: uuid.UUID, column: sa.ColumnElement[int]) -> int:
        result = await self._session.execute(
            sa.update(PlayerRow)
            .execution_options(synchronize_session=False)
            .where(PlayerRow.id == player_id)
            .values(health=column)
            .returning(PlayerRow.health)
        )
        health = result.scalar_one_or_none()
        if health is None:
            raise PlayerNotFound("No such character.")
        return int(health)


def check_reason(reason: object) -> None:
    if not isinstance(reason, str) or not 0 < len(reason) <= _REASON_MAX:
        raise InvalidInput(f"A reason must be text of 1 to {_REASON_MAX} characters.")
