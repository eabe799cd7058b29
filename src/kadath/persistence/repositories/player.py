"""PlayerRepository: loading and saving characters."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.errors import InvalidInput, PlayerNotFound
from kadath.domain.player import Player, name_key
from kadath.persistence.dialect import upsert
from kadath.persistence.errors import translate
from kadath.persistence.mapping import player_from_row, player_values
from kadath.persistence.models import PlayerRow, utcnow
from kadath.persistence.touches import RoomTouches

_NEVER_OVERWRITTEN = {"id", "account_id", "created_at"}
MAX_LIST = 1000


class PlayerRepository:
    def __init__(self, session: AsyncSession, touches: RoomTouches | None = None) -> None:
        self._session = session
        self._touches = touches or RoomTouches()

    async def get_player_by_id(self, player_id: uuid.UUID) -> Player:
        """The player with this id. Raises PlayerNotFound."""
        row = await self._session.get(PlayerRow, _as_uuid(player_id))
        if row is None:
            raise PlayerNotFound("No such character.")
        return player_from_row(row)

    async def get_player_by_name(self, name: str) -> Player:
        """The player with this name, in any case. Raises PlayerNotFound."""
        if not isinstance(name, str) or not name:
            raise PlayerNotFound("No such character.")
        row = await self._session.scalar(
            sa.select(PlayerRow).where(PlayerRow.name_key == name_key(name))
        )
        if row is None:
            raise PlayerNotFound(f"There is no character called {name}.")
        return player_from_row(row)

    async def get_players_by_user(self, account_id: uuid.UUID) -> list[Player]:
        rows = await self._session.scalars(
            sa.select(PlayerRow)
            .where(PlayerRow.account_id == _as_uuid(account_id))
            .order_by(PlayerRow.created_at, PlayerRow.name_key)
        )
        return [player_from_row(r) for r in rows]

    async def list_players(self, *, limit: int = 100, offset: int = 0) -> list[Player]:
        if not (0 < limit <= MAX_LIST and offset >= 0):
            raise InvalidInput(f"limit must be 1..{MAX_LIST} and offset not negative.")
        rows = await self._session.scalars(
            sa.select(PlayerRow).order_by(PlayerRow.name_key).limit(limit).offset(offset)
        )
        return [player_from_row(r) for r in rows]

    async def get_players_in_room(self, room_id: str) -> list[Player]:
        rows = await self._session.scalars(
            sa.select(PlayerRow).where(PlayerRow.room_id == room_id).order_by(PlayerRow.name_key)
        )
        return [player_from_row(r) for r in rows]

    async def get_players_batch(self, player_ids: Sequence[uuid.UUID]) -> list[Player]:
        """The players among these ids that exist, in no particular order."""
        ids = [_as_uuid(i) for i in player_ids]
        if not ids:
            return []
        rows = await self._session.scalars(sa.select(PlayerRow).where(PlayerRow.id.in_(ids)))
        return [player_from_row(r) for r in rows]

    async def save_player(self, player: Player) -> None:
        """Insert or update one player. Raises InvalidName, InvalidAmount, DuplicateName."""
        await self.save_players([player])

    async def save_players(self, players: Sequence[Player]) -> int:
        """Insert or update every player in one statement. Raises as save_player; writes none
        of them if any one is refused."""
        if not players:
            return 0
        for player in players:
            player.validate()
        rows = [player_values(p) for p in players]
        columns = [c for c in rows[0] if c not in _NEVER_OVERWRITTEN]
        stmt = upsert(self._session, PlayerRow.__table__, ["id"], columns)  # type: ignore[arg-type]
        try:
            await self._session.execute(stmt, rows)
        except SQLAlchemyError as exc:
            translated = translate(exc)
            if translated is None:
                raise
            raise translated from exc
        return len(rows)

    async def delete_player(self, player_id: uuid.UUID) -> None:
        """Delete a player; items still carried go with it, so callers first leave them on
        the floor (CharacterService.delete, the facade's delete_player). Raises PlayerNotFound."""
        result = await self._session.execute(
            sa.delete(PlayerRow).where(PlayerRow.id == _as_uuid(player_id)).returning(PlayerRow.id)
        )
        if result.first() is None:
            raise PlayerNotFound("No such character.")

    async def update_player_last_active(
        self, player_id: uuid.UUID, when: datetime | None = None
    ) -> None:
        """Stamp the player's last activity. Raises PlayerNotFound."""
        result = await self._session.execute(
            sa.update(PlayerRow)
            .execution_options(synchronize_session=False)
            .where(PlayerRow.id == _as_uuid(player_id))
            .values(last_active_at=when or utcnow())
            .returning(PlayerRow.id)
        )
        if result.first() is None:
            raise PlayerNotFound("No such character.")

    async def move_player(self, player_id: uuid.UUID, room_id: str) -> None:
        """Store the player's position (one small statement, used on every move)."""
        result = await self._session.execute(
            sa.update(PlayerRow)
            .execution_options(synchronize_session=False)
            .where(PlayerRow.id == _as_uuid(player_id))
            .values(room_id=room_id, last_active_at=utcnow())
            .returning(PlayerRow.id)
        )
        if result.first() is None:
            raise PlayerNotFound("No such character.")

    async def lock_in_order(self, player_ids: Iterable[uuid.UUID]) -> None:
        """Take these characters' row locks now, in id order (PostgreSQL; SQLite's one writer
        needs none): a transaction that will write several of them in another order, such as
        a combat round, then cannot deadlock with another multi-row writer."""
        ids = sorted(set(player_ids))
        if ids and self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(
                sa.select(PlayerRow.id)
                .where(PlayerRow.id.in_(ids))
                .order_by(PlayerRow.id)
                .with_for_update()
            )

    async def claim_play(self, player_id: uuid.UUID) -> int:
        """``serve --cluster``: this load of the character into play becomes the one whose
        saves count (``save_positions``, ``save_lazy_columns`` with ``claims``); the claim's
        number. Raises PlayerNotFound."""
        table = cast(sa.Table, PlayerRow.__table__)
        claim = await self._session.scalar(
            sa.update(table)
            .where(table.c.id == _as_uuid(player_id))
            .values(play_claim=table.c.play_claim + 1)
            .returning(table.c.play_claim)
        )
        if claim is None:
            raise PlayerNotFound("No such character.")
        return int(claim)

    async def save_positions(
        self,
        positions: Sequence[tuple[uuid.UUID, str]],
        claims: Mapping[uuid.UUID, int] | None = None,
    ) -> None:
        """Store many characters' rooms in one executemany UPDATE. ``claims`` (``serve
        --cluster``): each character's claim (``claim_play``); a row whose claim is newer (a
        later load elsewhere) is left as it is."""
        if not positions:
            return
        now = utcnow()
        # in id order, as every multi-row writer should lock rows, so two never deadlock
        rows = [{"pid": pid, "rid": room, "seen": now} for pid, room in sorted(positions)]
        for _, room in positions:
            self._touches.position(room)
        values: dict[str, sa.BindParameter[object]] = {
            "room_id": sa.bindparam("rid"),
            "last_active_at": sa.bindparam("seen"),
        }
        await self._update_claimed(values, rows, claims)

    async def _update_claimed(
        self,
        values: dict[str, sa.BindParameter[object]],
        rows: list[dict[str, object]],
        claims: Mapping[uuid.UUID, int] | None,
    ) -> None:
        """One executemany UPDATE of ``values`` per row (``pid`` the id); with ``claims``,
        only where the row's ``play_claim`` is the character's claim."""
        table = cast(sa.Table, PlayerRow.__table__)
        stmt = sa.update(table).where(table.c.id == sa.bindparam("pid")).values(**values)
        if claims is None:
            await self._session.execute(stmt, rows)
            return
        fenced = stmt.where(table.c.play_claim == sa.bindparam("claim"))
        claimed: list[dict[str, object]] = []
        unclaimed: list[dict[str, object]] = []
        for row in rows:
            claim = claims.get(cast(uuid.UUID, row["pid"]))
            if claim is None:
                unclaimed.append(row)
            else:
                claimed.append({**row, "claim": claim})
        if claimed:
            await self._session.execute(fenced, claimed)
        if unclaimed:
            await self._session.execute(stmt, unclaimed)

    def standing_in(self, room_id: str) -> None:
        """This unit of work writes the state (health, lucidity, experience) of a character
        standing in ``room_id``: a fenced unit of work (``serve --cluster``) must hold its zone."""
        self._touches.position(room_id)

    async def save_lazy_columns(
        self,
        players: Sequence[Player],
        served_in: Iterable[str] = (),
        claims: Mapping[uuid.UUID, int] | None = None,
    ) -> None:
        """Store what is written lazily (room, last active, extra) for many characters in one
        executemany UPDATE; health, lucidity, experience and level belong to atomic statements
        and are never written here. A deleted character is not brought back. ``served_in``:
        the rooms the characters were run in, whose zones a fenced unit of work must hold
        (``serve --cluster``; a hand-over saves a character in a room of the next zone).
        ``claims``: as ``save_positions``."""
        if not players:
            return
        for room in served_in:
            self._touches.position(room)
        now = utcnow()
        table = cast(sa.Table, PlayerRow.__table__)
        values = {
            "room_id": sa.bindparam("rid"),
            "last_active_at": sa.bindparam("seen"),
            "extra": sa.bindparam("xtra", type_=table.c.extra.type),
        }
        ordered = sorted(players, key=lambda p: p.id)  # id order: see save_positions
        rows: list[dict[str, object]] = [
            {"pid": p.id, "rid": p.room_id, "seen": now, "xtra": p.extra} for p in ordered
        ]
        await self._update_claimed(values, rows, claims)

    async def fallen(self) -> list[Player]:
        """Characters stored at health 0: a death that never happened (crash, older version)."""
        rows = await self._session.scalars(sa.select(PlayerRow).where(PlayerRow.health <= 0))
        return [player_from_row(r) for r in rows]

    async def count_players(self) -> int:
        return int(await self._session.scalar(sa.select(sa.func.count(PlayerRow.id))) or 0)


def _as_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise PlayerNotFound("No such character.") from None
