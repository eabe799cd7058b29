"""ExperienceRepository: experience gains with level-ups, and whitelisted stat changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kadath.domain.errors import InvalidAmount, PlayerNotFound, UnknownStatField
from kadath.domain.experience import MAX_LEVEL, level_for_xp
from kadath.domain.player import MAX_AMOUNT, Player, validate_amount
from kadath.domain.stats import MAX_LUCIDITY, STAT_NAMES, max_health_for
from kadath.persistence.models import PlayerRow
from kadath.persistence.repositories.health import check_reason

STAT_MIN = 1
STAT_MAX = 30
# field -> (lowest, highest) a change may leave it at
STAT_FIELDS: dict[str, tuple[int, int]] = dict.fromkeys(STAT_NAMES, (STAT_MIN, STAT_MAX))
STAT_FIELDS["lucidity"] = (0, MAX_LUCIDITY)


@dataclass(frozen=True, slots=True)
class ExperienceGain:
    """What a gain left in the row: the caller applies it to memory after the commit."""

    experience: int
    old_level: int
    level: int
    max_health: int
    health: int

    @property
    def leveled_up(self) -> bool:
        return self.level > self.old_level

    def apply_to(self, player: Player) -> None:
        """Copy the committed values onto the in-memory player (after the commit)."""
        player.experience, player.level = self.experience, self.level
        player.max_health, player.health = self.max_health, self.health


class ExperienceRepository:
    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        # A unit of work's session, or a bare connection for the facade's lone calls.
        self._session = session

    async def gain_experience(self, player: Player, amount: int, source: str) -> ExperienceGain:
        """Add experience and raise the level it earns; returns the row's new values (``player``
        is not changed). Raises InvalidAmount, PlayerNotFound."""
        validate_amount(amount)
        check_reason(source)
        returned = (PlayerRow.experience, PlayerRow.level, PlayerRow.max_health, PlayerRow.health)
        row = (
            await self._session.execute(
                sa.update(PlayerRow)
                .execution_options(synchronize_session=False)
                .where(PlayerRow.id == player.id)
                .values(experience=PlayerRow.experience + amount)
                .returning(*returned)
            )
        ).one_or_none()
        if row is None:
            raise PlayerNotFound("No such character.")
        experience, old_level, max_health, health = (int(v) for v in row)
        return await self.settle_level(player, experience, old_level, max_health, health)

    async def settle_level(
        self, player: Player, experience: int, old_level: int, max_health: int, health: int
    ) -> ExperienceGain:
        """Raise the level ``experience`` earns, if it is above ``old_level`` (the row's values
        after an experience update are passed in); returns the gain."""
        level = min(level_for_xp(experience), MAX_LEVEL)
        if level > old_level:
            # "level < new" keeps concurrent gains from lowering a level another one raised.
            top = max_health_for(player.stats, level)
            raised = (
                await self._session.execute(
                    sa.update(PlayerRow)
                    .execution_options(synchronize_session=False)
                    .where(PlayerRow.id == player.id, PlayerRow.level < level)
                    .values(level=level, max_health=top, health=top)
                    .returning(PlayerRow.max_health, PlayerRow.health)
                )
            ).one_or_none()
            if raised is not None:
                max_health, health = int(raised[0]), int(raised[1])
        return ExperienceGain(experience, old_level, max(level, old_level), max_health, health)

    async def update_player_stat_field(
        self, player_id: uuid.UUID, field: str, delta: int, reason: str
    ) -> int:
        """Add ``delta`` to a whitelisted stat, clamped to its range; returns the new value.
        Raises UnknownStatField, InvalidAmount, PlayerNotFound."""
        bounds = STAT_FIELDS.get(field) if isinstance(field, str) else None
        if bounds is None:
            allowed = ", ".join(sorted(STAT_FIELDS))
            raise UnknownStatField(f"Unknown stat {field!r}; allowed: {allowed}.")
        if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_AMOUNT:
            raise InvalidAmount("A stat change must be a whole number.")
        check_reason(reason)
        low, high = bounds
        column = getattr(PlayerRow, field)
        raw = column + delta
        value = sa.case((raw > high, high), (raw < low, low), else_=raw)
        result = await self._session.execute(
            sa.update(PlayerRow)
            .execution_options(synchronize_session=False)
            .where(PlayerRow.id == player_id)
            .values({field: value})
            .returning(column)
        )
        new = result.scalar_one_or_none()
        if new is None:
            raise PlayerNotFound("No such character.")
        return int(new)
