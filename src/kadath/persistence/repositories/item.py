"""ItemRepository: item instances (prototypes come from the world files)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.errors import ItemNotFound
from kadath.domain.item import ItemInstance, Location, OnFloor
from kadath.domain.world import ItemPrototype
from kadath.persistence.dialect import insert_ignore
from kadath.persistence.mapping import item_from_row, location_filter, location_values
from kadath.persistence.models import ContainerRow, ItemRow, WorldSeedRow, utcnow
from kadath.persistence.touches import RoomTouches


class ItemRepository:
    def __init__(
        self,
        session: AsyncSession,
        prototypes: dict[str, ItemPrototype],
        touches: RoomTouches | None = None,
    ) -> None:
        self._session = session
        self._prototypes = prototypes
        self._touches = touches or RoomTouches()

    def get_prototype(self, prototype_id: str) -> ItemPrototype:
        """Raises ItemNotFound."""
        proto = self._prototypes.get(prototype_id)
        if proto is None:
            raise ItemNotFound(f"There is no kind of item called {prototype_id!r}.")
        return proto

    async def create_item(self, prototype_id: str, location: Location) -> ItemInstance:
        """A new instance of a prototype at ``location``. Raises ItemNotFound."""
        self.get_prototype(prototype_id)
        row = ItemRow(
            id=uuid.uuid4(),
            prototype_id=prototype_id,
            created_at=utcnow(),
            **location_values(location),
        )
        self._session.add(row)
        await self._session.flush()
        self._touches.location(location)
        return item_from_row(row)

    async def create_items(self, prototype_ids: Sequence[str], location: Location) -> int:
        """Many new instances at one place, in one statement. Raises ItemNotFound."""
        for proto in prototype_ids:
            self.get_prototype(proto)
        if not prototype_ids:
            return 0
        place = location_values(location)
        now = utcnow()
        rows = [
            {"id": uuid.uuid4(), "prototype_id": p, "created_at": now, **place}
            for p in prototype_ids
        ]
        await self._session.execute(sa.insert(ItemRow), rows)
        self._touches.location(location)
        return len(rows)

    async def get_item(self, item_id: uuid.UUID) -> ItemInstance:
        """Raises ItemNotFound."""
        row = await self._session.get(ItemRow, item_id)
        if row is None:
            raise ItemNotFound("That item does not exist.")
        return item_from_row(row)

    async def items_at(self, location: Location) -> list[ItemInstance]:
        """Everything at one place, oldest first."""
        where = location_filter(location)
        rows = await self._session.scalars(
            sa.select(ItemRow).where(where).order_by(ItemRow.created_at, ItemRow.id)
        )
        return [item_from_row(r) for r in rows]

    async def items_at_floor(self, room_id: str) -> list[ItemInstance]:
        return await self.items_at(OnFloor(room_id))

    async def count_at(self, location: Location) -> int:
        return len(await self.items_at(location))

    async def move_item(self, item_id: uuid.UUID, location: Location) -> ItemInstance:
        """Put an item somewhere without capacity checks (world code, admins); takes it off.
        Raises ItemNotFound."""
        self._touches.room(
            await self._session.scalar(sa.select(ItemRow.room_id).where(ItemRow.id == item_id))
        )
        result = await self._session.execute(
            sa.update(ItemRow)
            .execution_options(synchronize_session=False)
            .where(ItemRow.id == item_id)
            .values(worn_slot=None, **location_values(location))
            .returning(ItemRow)
        )
        row = result.scalar_one_or_none()
        if row is None:
            raise ItemNotFound("That item does not exist.")
        self._touches.location(location)
        return item_from_row(row)

    async def move_all(self, source: Location, destination: Location) -> int:
        """Move everything at ``source`` to ``destination`` in one statement; returns how many."""
        where = location_filter(source)
        result = await self._session.execute(
            sa.update(ItemRow)
            .execution_options(synchronize_session=False)
            .where(where)
            .values(worn_slot=None, **location_values(destination))
            .returning(ItemRow.id)
        )
        moved = len(result.all())
        if moved:
            self._touches.location(source)
            self._touches.location(destination)
        return moved

    async def set_worn(self, item_id: uuid.UUID, player_id: uuid.UUID, slot: str | None) -> None:
        """Wear (or with None, remove) an item the player carries. Raises ItemNotFound."""
        result = await self._session.execute(
            sa.update(ItemRow)
            .execution_options(synchronize_session=False)
            .where(ItemRow.id == item_id, ItemRow.owner_player_id == player_id)
            .values(worn_slot=slot)
            .returning(ItemRow.id)
        )
        if result.first() is None:
            raise ItemNotFound("You are not carrying that.")

    async def delete_item(self, item_id: uuid.UUID) -> None:
        """Delete an item, and the container it is, with its contents. Raises ItemNotFound."""
        await self._session.execute(sa.delete(ContainerRow).where(ContainerRow.item_id == item_id))
        result = await self._session.execute(
            sa.delete(ItemRow).where(ItemRow.id == item_id).returning(ItemRow.room_id)
        )
        row = result.first()
        if row is None:
            raise ItemNotFound("That item does not exist.")
        self._touches.room(row[0])

    async def count_by_prototype(self, prototype_ids: Sequence[str]) -> dict[str, int]:
        """How many instances of each of ``prototype_ids`` exist anywhere (absent: none)."""
        if not prototype_ids:
            return {}
        stmt = (
            sa.select(ItemRow.prototype_id, sa.func.count())
            .where(ItemRow.prototype_id.in_(list(prototype_ids)))
            .group_by(ItemRow.prototype_id)
        )
        rows = await self._session.execute(stmt)
        return {prototype_id: int(count) for prototype_id, count in rows.all()}

    async def count_in_rooms(self, room_ids: Sequence[str]) -> int:
        """Items on the floors of ``room_ids`` or inside containers standing there."""
        if not room_ids:
            return 0
        rooms = list(room_ids)
        in_containers = sa.select(ContainerRow.id).where(ContainerRow.room_id.in_(rooms))
        stmt = sa.select(sa.func.count()).where(
            sa.or_(ItemRow.room_id.in_(rooms), ItemRow.container_id.in_(in_containers))
        )
        return int((await self._session.execute(stmt)).scalar_one())

    async def ensure_seeded(self, key: str) -> bool:
        """Claim a one-time world seed ``key``; True the first time only (even when several
        processes seed at once: the insert is ``ON CONFLICT DO NOTHING``)."""
        stmt = insert_ignore(self._session, cast(sa.Table, WorldSeedRow.__table__), ["key"])
        result = await self._session.execute(stmt.values(key=key, seeded_at=utcnow()))
        return bool(cast(CursorResult[Any], result).rowcount)
