"""Characters: creating one (profession, rolled or bought stats), listing and deleting them.
Every call checks that the account owns the character, unless the account is an admin.
A deleted character's belongings are left on the floor where it last stood."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kadath.domain.account import Account, Profession
from kadath.domain.errors import (
    Conflict,
    InvalidInput,
    InvalidName,
    NotOwner,
    PlayerNotFound,
    RoomNotFound,
)
from kadath.domain.item import InInventory, OnFloor
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
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_CHARACTERS_PER_ACCOUNT = 10


@dataclass(frozen=True)
class Roster:
    """Characters, and the names of the professions they may follow (read together)."""

    players: list[Player]
    professions: dict[int, str]


class CharacterService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reading: UnitOfWorkFactory,
        presence: Presence,
        rng: Rng,
        clock: Clock,
        start_room: Callable[[], str],  # read at each use: a reload may move it
    ) -> None:
        self._uow, self._reading, self._presence = uow, reading, presence
        self._rng, self._clock, self._start = rng, clock, start_room

    async def professions(self) -> list[Profession]:
        async with self._reading() as uow:
            return await uow.professions.get_all_professions()

    async def roster(self, account: Account) -> Roster:
        """The account's characters, in one read."""
        async with self._reading() as uow:
            players = await uow.players.get_players_by_user(account.id)
            return Roster(players, await _profession_names(uow))

    async def everyone(self, limit: int) -> Roster:
        """Every account's characters (for admins), in one read. Raises InvalidInput."""
        async with self._reading() as uow:
            players = await uow.players.list_players(limit=limit)
            return Roster(players, await _profession_names(uow))

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
                room_id=self._start(),
                respawn_room_id=self._start(),
                stats=stats,
                health=health,
                max_health=health,
                profession_id=profession.id,
                lucidity=MAX_LUCIDITY,
                role=account.role,
                created_at=now,
                last_active_at=now,
            )
            await uow.players.save_player(player)
            await uow.exploration.record_visit(player.id, self._start())
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
        async with self._reading() as uow:
            return await uow.players.get_players_by_user(account.id)

    async def get(self, account: Account, player_id: uuid.UUID) -> Player:
        """Raises PlayerNotFound, NotOwner."""
        async with self._reading() as uow:
            player = await uow.players.get_player_by_id(player_id)
        check_owner(account, player)
        return player

    async def by_name(self, account: Account, name: str) -> Player:
        """The named character, if this account may play it. Raises PlayerNotFound, NotOwner."""
        try:
            validate_name(name)
        except InvalidName:
            raise PlayerNotFound(f"There is no character called {name[:30]!r}.") from None
        async with self._reading() as uow:
            player = await uow.players.get_player_by_name(name)
        check_owner(account, player)
        return player

    async def delete(self, account: Account, player_id: uuid.UUID) -> None:
        """Delete a character that is not in play; everything it carried (worn bags with
        their contents) is left on the floor where it last stood, in the same transaction.
        Raises PlayerNotFound, NotOwner, Conflict (in play)."""
        # The gate keeps an entry from loading the character between this check and the commit.
        async with self._presence.gate(player_id), self._uow() as uow:
            player = await uow.players.get_player_by_id(player_id)
            check_owner(account, player)
            if player.id in self._presence:
                raise Conflict("That character is in the world; quit first.")
            floor = OnFloor(await self._known_room(uow, player.room_id))
            await uow.items.move_all(InInventory(player.id), floor)
            await uow.players.delete_player(player.id)

    async def _known_room(self, uow: UnitOfWork, room_id: str) -> str:
        """``room_id``, or the start room if the world files no longer have it."""
        try:
            return (await uow.rooms.get_room_by_id(room_id)).id
        except RoomNotFound:
            return self._start()


async def _profession_names(uow: UnitOfWork) -> dict[int, str]:
    return {p.id: p.name for p in await uow.professions.get_all_professions()}


def check_owner(account: Account, player: Player) -> None:
    """Raises NotOwner unless the account owns the character or is an admin."""
    if player.account_id != account.id and not account.is_admin:
        raise NotOwner("That character is not yours.")
