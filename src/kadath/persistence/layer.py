"""AsyncPersistenceLayer: the one-call facade, each call its own short transaction.

persistence = await AsyncPersistenceLayer.open(url, world)
await persistence.damage_player(player, 20, "combat")
async with persistence.unit_of_work() as uow:   # several steps, all or nothing
    ...
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from kadath.domain.account import Profession
from kadath.domain.errors import DatabaseUnavailable, InvalidAmount, KadathError
from kadath.domain.item import Container, InInventory, ItemInstance, Location, OnFloor
from kadath.domain.player import MAX_AMOUNT, Player, validate_amount
from kadath.domain.world import Room, World
from kadath.persistence import migrate
from kadath.persistence.availability import DatabaseAvailability
from kadath.persistence.deltas import HealthDeltas, core_transaction
from kadath.persistence.engine import (
    create_engine,
    create_reader_engine,
    create_session_factory,
)
from kadath.persistence.errors import UNAVAILABLE, is_outage, translate
from kadath.persistence.repositories.experience import ExperienceGain, ExperienceRepository
from kadath.persistence.repositories.health import check_reason
from kadath.persistence.repositories.room import RoomCache
from kadath.persistence.seeding import seed_world
from kadath.persistence.uow import READ_ONLY, FaultHook, UnitOfWork
from kadath.persistence.visits import FirstVisits

T = TypeVar("T")
# Guards a write of one zone's state inside the writing session's transaction; raises ZoneMoved.
ZoneFence = Callable[[AsyncSession, str], Awaitable[None]]


class AsyncPersistenceLayer:
    def __init__(self, engine: AsyncEngine, world: World) -> None:
        self.engine = engine
        self.world = world
        self.room_cache = RoomCache(world)
        self._sessions = create_session_factory(engine)
        # Read-only units of work: on their own engine for a SQLite file (see engine.py).
        self._reader = create_reader_engine(engine)
        self._reads = create_session_factory(self._reader) if self._reader else None
        self.availability = DatabaseAvailability()
        # A checkout follows the pool's pre-ping or a fresh connect: the database answers.
        for checked in (engine, self._reader):
            if checked is not None:
                event.listen(checked.sync_engine, "checkout", self._checked_out)
        # Called with the rooms whose floor or containers a committed unit of work changed.
        self.room_listeners: list[Callable[[set[str]], None]] = []
        self.fault: FaultHook | None = None  # tests inject failures through it
        # ``kadath serve --cluster``: the guard of every write of a zone's state (its rooms'
        # floors and containers), in the writing transaction; None: one process, no guard.
        self.fence: ZoneFence | None = None
        # The one-call health deltas: concurrent calls coalesced, one Core statement a batch.
        self.health_deltas = HealthDeltas(engine, self._translated, lambda: self.fault)
        # First visits and their experience, a group per transaction (movement's write path).
        self.first_visits = FirstVisits(engine, self._translated, lambda: self.fault)

    @classmethod
    async def open(
        cls, url: str, world: World, *, migrate_schema: bool = True, **engine_options: Any
    ) -> AsyncPersistenceLayer:
        """Connect, apply migrations, and place the world's items the first time."""
        engine = create_engine(url, **engine_options)
        layer = cls(engine, world)
        try:
            if migrate_schema:
                await migrate.upgrade(engine)
                await layer.seed_world()
        except BaseException:
            if layer._reader is not None:
                await layer._reader.dispose()
            await engine.dispose()
            raise
        return layer

    async def close(self) -> None:
        await self.health_deltas.close()
        await self.first_visits.close()
        if self._reader is not None:
            await self._reader.dispose()
        await self.engine.dispose()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(
            self._sessions,
            self.room_cache,
            self.world.items,
            self._rooms_changed,
            fault=self.fault,
            availability=self.availability,
            fence=None if self.fence is None else self._fence_rooms,
        )

    async def _fence_rooms(self, session: AsyncSession, rooms: set[str]) -> None:
        """Guard the zones of ``rooms`` (in zone order: two processes lock alike)."""
        fence, world_rooms = self.fence, self.world.rooms
        if fence is None:
            return
        for zone in sorted({world_rooms[r].zone_id for r in rooms if r in world_rooms}):
            await fence(session, zone)

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads: on SQLite it never waits for the writer, nor for a
        connection the writers hold."""
        return UnitOfWork(
            self._reads or self._sessions,
            self.room_cache,
            self.world.items,
            self._rooms_changed,
            read_only=True,
            fault=self.fault,
            availability=self.availability,
        )

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine the layer opened: ``engine``, then SQLite's reader engine if any."""
        return (self.engine,) if self._reader is None else (self.engine, self._reader)

    def _checked_out(self, *_args: Any) -> None:
        self.availability.answered()

    def _rooms_changed(self, rooms: set[str]) -> None:
        for listener in self.room_listeners:
            listener(rooms)

    async def _run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self.unit_of_work() as uow:
            return await work(uow)

    async def _read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self.reading() as uow:
            return await work(uow)

    async def _core(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        *,
        single_statement: bool = False,
    ) -> T:
        """``work`` on a pooled connection in its own short transaction, without an ORM
        session (a lone delta); failures translated as a unit of work translates them."""
        try:
            if self.fault is not None:
                self.fault("execute")
            async with core_transaction(self.engine, single_statement=single_statement) as conn:
                return await work(conn)
        except (SQLAlchemyError, OSError) as exc:
            error = self._translated(exc)
            if error is exc:
                raise
            raise error from exc

    def _translated(self, exc: BaseException) -> BaseException:
        """The Kadath error for a database failure (noting an outage), else ``exc`` itself."""
        translated = exc if isinstance(exc, KadathError) else translate(exc)
        if isinstance(translated, DatabaseUnavailable):
            self.availability.lost(translated.__cause__ or exc)
        return exc if translated is None else translated

    async def seed_world(self) -> int:
        """Place the world files' floor items and containers once; returns how many were placed."""
        async with self.unit_of_work() as uow:
            return await seed_world(uow, self.world)

    async def ping(self) -> None:
        """Raises DatabaseUnavailable when the database does not answer; any other
        failure is a bug, raised as it is."""
        try:
            async with self.engine.connect() as conn:
                # A plain BEGIN on SQLite (engine.py): the probe never waits for a writer.
                await conn.execution_options(**{READ_ONLY: True})
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            if not is_outage(exc):
                raise
            self.availability.lost(exc)
            raise DatabaseUnavailable(UNAVAILABLE) from exc

    def pool_status(self) -> dict[str, int]:
        pool: Any = self.engine.pool
        stats: dict[str, int] = {}
        for name in ("size", "checkedin", "checkedout", "overflow"):
            method = getattr(pool, name, None)
            if callable(method):
                stats[name] = int(method())
        return stats

    # -- players ---------------------------------------------------------------------------
    async def get_player_by_id(self, player_id: uuid.UUID) -> Player:
        return await self._read(lambda uow: uow.players.get_player_by_id(player_id))

    async def get_player_by_name(self, name: str) -> Player:
        return await self._read(lambda uow: uow.players.get_player_by_name(name))

    async def get_players_by_user(self, account_id: uuid.UUID) -> list[Player]:
        return await self._read(lambda uow: uow.players.get_players_by_user(account_id))

    async def list_players(self, *, limit: int = 100, offset: int = 0) -> list[Player]:
        return await self._read(lambda uow: uow.players.list_players(limit=limit, offset=offset))

    async def get_players_in_room(self, room_id: str) -> list[Player]:
        return await self._read(lambda uow: uow.players.get_players_in_room(room_id))

    async def get_players_batch(self, player_ids: Sequence[uuid.UUID]) -> list[Player]:
        return await self._read(lambda uow: uow.players.get_players_batch(player_ids))

    async def save_player(self, player: Player) -> None:
        await self._run(lambda uow: uow.players.save_player(player))

    async def save_players(self, players: Sequence[Player]) -> int:
        return await self._run(lambda uow: uow.players.save_players(players))

    async def delete_player(self, player_id: uuid.UUID) -> None:
        """Delete a character; what it carried is left on the floor where it stood (the
        start room if unknown), as CharacterService.delete does. Raises PlayerNotFound."""

        async def work(uow: UnitOfWork) -> None:
            player = await uow.players.get_player_by_id(player_id)
            known = self.room_cache.get(player.room_id) is not None
            floor = OnFloor(player.room_id if known else self.world.start_room_id)
            await uow.items.move_all(InInventory(player.id), floor)
            await uow.players.delete_player(player.id)

        await self._run(work)

    async def update_player_last_active(
        self, player_id: uuid.UUID, when: datetime | None = None
    ) -> None:
        await self._run(lambda uow: uow.players.update_player_last_active(player_id, when))

    # -- rooms (from the cache: no database round trip) -------------------------------------
    async def get_room_by_id(self, room_id: str) -> Room:
        return await self._run(lambda uow: uow.rooms.get_room_by_id(room_id))

    async def list_rooms(self, zone_id: str | None = None) -> list[Room]:
        return await self._run(lambda uow: uow.rooms.list_rooms(zone_id))

    # -- health and experience (lone deltas: Core statements, no ORM session) --------------
    # ``serve --cluster`` (a fence set): each call is a unit of work of its own, fenced by the
    # zone the character stands in (its room as given, or as stored for a bare id); one
    # process keeps the coalesced Core statements, with no extra work.
    async def damage_player(self, player: Player, amount: int, damage_type: str) -> int:
        """The new health (``player`` is not changed). Raises InvalidAmount, InvalidInput,
        PlayerNotFound, DatabaseUnavailable; ZoneMoved when fenced."""
        validate_amount(amount)
        check_reason(damage_type)
        if self.fence is not None:
            return await self._standing(
                player, lambda uow: uow.health.damage_player(player, amount, damage_type)
            )
        return await self.health_deltas.apply(player.id, -amount)

    async def heal_player(self, player: Player, amount: int) -> int:
        """The new health (``player`` is not changed)."""
        validate_amount(amount)
        if self.fence is not None:
            return await self._standing(player, lambda uow: uow.health.heal_player(player, amount))
        return await self.health_deltas.apply(player.id, amount)

    async def update_player_health(self, player_id: uuid.UUID, delta: int, reason: str) -> int:
        if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_AMOUNT:
            raise InvalidAmount(f"A health change must be a whole number within ±{MAX_AMOUNT}.")
        check_reason(reason)
        if self.fence is not None:
            return await self._standing(
                player_id, lambda uow: uow.health.update_player_health(player_id, delta, reason)
            )
        return await self.health_deltas.apply(player_id, delta)

    async def gain_experience(self, player: Player, amount: int, source: str) -> ExperienceGain:
        """The row's new values (``player`` is not changed)."""
        if self.fence is not None:
            return await self._standing(
                player, lambda uow: uow.experience.gain_experience(player, amount, source)
            )
        return await self._core(
            lambda conn: ExperienceRepository(conn).gain_experience(player, amount, source)
        )

    async def update_player_stat_field(
        self, player_id: uuid.UUID, field: str, delta: int, reason: str
    ) -> int:
        if self.fence is not None:
            return await self._standing(
                player_id,
                lambda uow: uow.experience.update_player_stat_field(
                    player_id, field, delta, reason
                ),
            )
        return await self._core(
            lambda conn: ExperienceRepository(conn).update_player_stat_field(
                player_id, field, delta, reason
            ),
            single_statement=True,
        )

    async def _standing(
        self, player: Player | uuid.UUID, work: Callable[[UnitOfWork], Awaitable[T]]
    ) -> T:
        """``work`` in a unit of work fenced by the zone the character stands in."""
        async with self.unit_of_work() as uow:
            if isinstance(player, Player):
                room_id = player.room_id
            else:
                room_id = (await uow.players.get_player_by_id(player)).room_id
            uow.players.standing_in(room_id)
            return await work(uow)

    # -- professions -------------------------------------------------------------------------
    async def get_all_professions(self) -> list[Profession]:
        return await self._read(lambda uow: uow.professions.get_all_professions())

    async def get_profession_by_id(self, profession_id: int) -> Profession:
        return await self._read(lambda uow: uow.professions.get_profession_by_id(profession_id))

    # -- containers and items ----------------------------------------------------------------
    async def get_container(self, container_id: uuid.UUID) -> Container:
        return await self._read(lambda uow: uow.containers.get_container(container_id))

    async def get_containers_in_room(self, room_id: str) -> list[Container]:
        return await self._read(lambda uow: uow.containers.get_containers_in_room(room_id))

    async def container_contents(self, container_id: uuid.UUID) -> list[ItemInstance]:
        return await self._read(lambda uow: uow.containers.contents(container_id))

    async def transfer_item(
        self,
        item_id: uuid.UUID,
        source: Location,
        destination: Location,
        *,
        actor_id: uuid.UUID | None = None,
        carry_capacity: int | None = None,
    ) -> ItemInstance:
        options: dict[str, Any] = {"actor_id": actor_id}
        if carry_capacity is not None:
            options["carry_capacity"] = carry_capacity
        return await self._run(
            lambda uow: uow.containers.transfer_item(item_id, source, destination, **options)
        )

    async def create_item(self, prototype_id: str, location: Location) -> ItemInstance:
        return await self._run(lambda uow: uow.items.create_item(prototype_id, location))

    async def get_item(self, item_id: uuid.UUID) -> ItemInstance:
        return await self._read(lambda uow: uow.items.get_item(item_id))

    async def items_at(self, location: Location) -> list[ItemInstance]:
        return await self._read(lambda uow: uow.items.items_at(location))
