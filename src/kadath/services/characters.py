"""Characters: creating one (profession, rolled or bought stats), listing and deleting them.
Every call checks that the account owns the character, unless the account is an admin."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from kadath.domain.account import Account, Profession
from kadath.domain.errors import InvalidInput, InvalidName, NotOwner, PlayerNotFound
from kadath.domain.player import Player, validate_name
from kadath.domain.rng import Rng
from kadath.domain.stats import (
    MAX_LUCIDITY,
    InvalidStats,
    Stats,
    StatsMethod,
    generate_for_profession,
    max_health_for,
    missing_requirements,
    point_buy,
)
from kadath.services.clock import Clock
from kadath.services.unit_of_work import UnitOfWork

MAX_CHARACTERS_PER_ACCOUNT = 10


class CharacterService:
    def __init__(
        self, uow: Callable[[], UnitOfWork], rng: Rng, clock: Clock, start_room_id: str
    ) -> None:
        self._uow, self._rng, self._clock, self._start = uow, rng, clock, start_room_id

    async def professions(self) -> list[Profession]:
        async with self._uow() as uow:
            return await uow.professions.get_all_professions()

    async def create(
        self,
        account: Account,
        name: str,
        profession_id: int,
        method: StatsMethod,
        bought: Mapping[str, int] | None = None,
    ) -> Player:
        """Raises InvalidName, InvalidStats, ProfessionNotFound, DuplicateName, InvalidInput."""
        validate_name(name)
        async with self._uow() as uow:
            if len(await uow.players.get_players_by_user(account.id)) >= MAX_CHARACTERS_PER_ACCOUNT:
                raise InvalidInput(f"An account may hold {MAX_CHARACTERS_PER_ACCOUNT} characters.")
            profession = await uow.professions.get_profession_by_id(profession_id)
            stats = self._stats_for(method, bought, profession)
            health = max_health_for(stats, 1)
            now = self._clock.now()
            player = Player(
                id=uuid.uuid4(),
                account_id=account.id,
                name=name[:1].upper() + name[1:],
                room_id=self._start,
                respawn_room_id=self._start,
                stats=stats,
                health=health,
                max_health=health,
                profession_id=profession.id,
                lucidity=MAX_LUCIDITY,
                is_admin=account.is_admin,
                created_at=now,
                last_active_at=now,
            )
            await uow.players.save_player(player)
            await uow.exploration.record_visit(player.id, self._start)
        return player

    def _stats_for(
        self, method: StatsMethod, bought: Mapping[str, int] | None, profession: Profession
    ) -> Stats:
        if method is StatsMethod.POINT_BUY:
            if bought is None:
                raise InvalidStats("Point-buy needs the six stats you bought.")
            stats = point_buy(dict(bought))
            missing = missing_requirements(stats, profession.requirements)
            if missing:
                raise InvalidStats(f"{profession.name} needs: " + "; ".join(missing) + ".")
            return stats
        if bought is not None:
            raise InvalidStats("Stats are rolled for this method; send none.")
        return generate_for_profession(method, self._rng, profession.requirements)

    async def owned(self, account: Account) -> list[Player]:
        async with self._uow() as uow:
            return await uow.players.get_players_by_user(account.id)

    async def get(self, account: Account, player_id: uuid.UUID) -> Player:
        """Raises PlayerNotFound, NotOwner."""
        async with self._uow() as uow:
            player = await uow.players.get_player_by_id(player_id)
        check_owner(account, player)
        return player

    async def by_name(self, account: Account, name: str) -> Player:
        """The named character, if this account may play it. Raises PlayerNotFound, NotOwner."""
        try:
            validate_name(name)
        except InvalidName:
            raise PlayerNotFound(f"There is no character called {name[:30]!r}.") from None
        async with self._uow() as uow:
            player = await uow.players.get_player_by_name(name)
        check_owner(account, player)
        return player

    async def delete(self, account: Account, player_id: uuid.UUID) -> None:
        """Raises PlayerNotFound, NotOwner."""
        async with self._uow() as uow:
            player = await uow.players.get_player_by_id(player_id)
            check_owner(account, player)
            await uow.players.delete_player(player.id)


def check_owner(account: Account, player: Player) -> None:
    """Raises NotOwner unless the account owns the character or is an admin."""
    if player.account_id != account.id and not account.is_admin:
        raise NotOwner("That character is not yours.")
