"""ContainerRepository: chests, worn bags and corpses, and the one checked way to move an item.

``transfer_item`` is a compare-and-set: the item moves only if it is still where the caller
says it is, so two players grabbing the same item at once cannot both get it. The destination
(container or carrier) is locked first, so two items racing into the last free slot cannot
both fit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.errors import (
    ContainerFull,
    ContainerLocked,
    ContainerNotFound,
    InvalidAmount,
    ItemMoved,
    ItemNotFound,
    NotAllowed,
    NotOwner,
    PlayerNotFound,
)
from kadath.domain.inventory import BASE_CARRY_SLOTS
from kadath.domain.item import (
    Container,
    ContainerKind,
    InContainer,
    InInventory,
    ItemInstance,
    Location,
    OnFloor,
)
from kadath.persistence.mapping import (
    container_from_row,
    item_from_row,
    location_filter,
    location_values,
)
from kadath.persistence.models import ContainerRow, ItemRow, PlayerRow, utcnow
from kadath.persistence.touches import RoomTouches


class ContainerRepository:
    def __init__(self, session: AsyncSession, touches: RoomTouches | None = None) -> None:
        self._session = session
        self._touches = touches or RoomTouches()

    async def create_container(
        self,
        *,
        kind: ContainerKind,
        name: str,
        capacity: int,
        room_id: str | None = None,
        owner_player_id: uuid.UUID | None = None,
        item_id: uuid.UUID | None = None,
        world_key: str | None = None,
        locked: bool = False,
        key_prototype_id: str | None = None,
        decays_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Container:
        """Raises InvalidAmount for a negative capacity."""
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise InvalidAmount("A container's capacity must be a whole number, zero or more.")
        row = ContainerRow(
            id=uuid.uuid4(),
            kind=ContainerKind(kind).value,
            name=name,
            capacity=capacity,
            room_id=room_id,
            owner_player_id=owner_player_id,
            item_id=item_id,
            world_key=world_key,
            locked=locked,
            key_prototype_id=key_prototype_id,
            decays_at=decays_at,
            created_at=utcnow(),
            meta=metadata or {},
        )
        self._session.add(row)
        await self._session.flush()
        self._touches.room(room_id)
        return container_from_row(row)

    async def get_container(self, container_id: uuid.UUID) -> Container:
        """Raises ContainerNotFound."""
        return container_from_row(await self._row(container_id))

    async def get_container_by_world_key(self, world_key: str) -> Container | None:
        row = await self._session.scalar(
            sa.select(ContainerRow).where(ContainerRow.world_key == world_key)
        )
        return container_from_row(row) if row else None

    async def get_container_by_item(self, item_id: uuid.UUID) -> Container | None:
        row = await self._session.scalar(
            sa.select(ContainerRow).where(ContainerRow.item_id == item_id)
        )
        return container_from_row(row) if row else None

    async def get_containers_in_room(self, room_id: str) -> list[Container]:
        rows = await self._session.scalars(
            sa.select(ContainerRow)
            .where(ContainerRow.room_id == room_id)
            .order_by(ContainerRow.created_at, ContainerRow.id)
        )
        return [container_from_row(r) for r in rows]

    async def get_containers_by_owner(self, player_id: uuid.UUID) -> list[Container]:
        rows = await self._session.scalars(
            sa.select(ContainerRow)
            .where(ContainerRow.owner_player_id == player_id)
            .order_by(ContainerRow.created_at)
        )
        return [container_from_row(r) for r in rows]

    async def update_container(
        self,
        container_id: uuid.UUID,
        *,
        locked: bool | None = None,
        metadata: dict[str, Any] | None = None,
        room_id: str | None = None,
    ) -> Container:
        """Change lock state, metadata or room. Raises ContainerNotFound."""
        values: dict[str, Any] = {}
        if locked is not None:
            values["locked"] = locked
        if metadata is not None:
            values["meta"] = metadata
        if room_id is not None:
            values["room_id"] = room_id
        row = await self._row(container_id)
        self._touches.room(row.room_id)
        for key, value in values.items():
            setattr(row, key, value)
        await self._session.flush()
        self._touches.room(row.room_id)
        return container_from_row(row)

    async def delete_container(self, container_id: uuid.UUID) -> None:
        """Delete a container and whatever is still inside. Raises ContainerNotFound."""
        result = await self._session.execute(
            sa.delete(ContainerRow)
            .where(ContainerRow.id == container_id)
            .returning(ContainerRow.id)
        )
        if result.first() is None:
            raise ContainerNotFound("That container does not exist.")

    async def list_decayed(self, now: datetime) -> list[Container]:
        rows = await self._session.scalars(
            sa.select(ContainerRow)
            .where(ContainerRow.decays_at.is_not(None), ContainerRow.decays_at <= now)
            .order_by(ContainerRow.decays_at)
        )
        return [container_from_row(r) for r in rows]

    async def contents(self, container_id: uuid.UUID) -> list[ItemInstance]:
        rows = await self._session.scalars(
            sa.select(ItemRow)
            .where(ItemRow.container_id == container_id)
            .order_by(ItemRow.created_at, ItemRow.id)
        )
        return [item_from_row(r) for r in rows]

    async def transfer_item(
        self,
        item_id: uuid.UUID,
        source: Location,
        destination: Location,
        *,
        actor_id: uuid.UUID | None = None,
        carry_capacity: int = BASE_CARRY_SLOTS,
    ) -> ItemInstance:
        """Move an item from ``source`` to ``destination``, checking locks, capacity and that
        the actor takes only from their own inventory. Raises ItemNotFound, ItemMoved,
        ContainerFull, ContainerLocked, ContainerNotFound, NotOwner, NotAllowed."""
        if source == destination:
            raise NotAllowed("It is already there.")
        if (
            isinstance(source, InInventory)
            and actor_id is not None
            and source.player_id != actor_id
        ):
            raise NotOwner("That is not yours to take.")
        if isinstance(source, InContainer):
            container = await self._row(source.container_id)
            if container.locked:
                raise ContainerLocked(f"{_cap(container.name)} is locked.")
        await self._check_room_for_one(item_id, destination, carry_capacity)
        result = await self._session.execute(
            sa.update(ItemRow)
            .execution_options(synchronize_session=False)
            .where(ItemRow.id == item_id, location_filter(source))
            .values(worn_slot=None, **location_values(destination))
            .returning(ItemRow)
        )
        row = result.scalar_one_or_none()
        if row is None:
            if await self._session.get(ItemRow, item_id) is None:
                raise ItemNotFound("That item does not exist.")
            raise ItemMoved("It is no longer there.")
        self._touches.location(source)
        self._touches.location(destination)
        return item_from_row(row)

    async def _check_room_for_one(
        self, item_id: uuid.UUID, destination: Location, carry_capacity: int
    ) -> None:
        match destination:
            case InContainer(container_id):
                container = await self._row(container_id, for_update=True)
                if container.item_id == item_id:
                    raise NotAllowed("You cannot put something inside itself.")
                if container.locked:
                    raise ContainerLocked(f"{_cap(container.name)} is locked.")
                if await self._count(ItemRow.container_id == container_id) >= container.capacity:
                    raise ContainerFull(f"{_cap(container.name)} is full.")
            case InInventory(player_id):
                locked = await self._session.scalar(
                    sa.select(PlayerRow.id).where(PlayerRow.id == player_id).with_for_update()
                )
                if locked is None:
                    raise PlayerNotFound("No such character.")
                if await self._count(ItemRow.owner_player_id == player_id) >= carry_capacity:
                    raise ContainerFull("You cannot carry any more.")
            case OnFloor():
                pass

    async def _count(self, where: sa.ColumnElement[bool]) -> int:
        return int(
            await self._session.scalar(sa.select(sa.func.count(ItemRow.id)).where(where)) or 0
        )

    async def _row(self, container_id: uuid.UUID, *, for_update: bool = False) -> ContainerRow:
        stmt = sa.select(ContainerRow).where(ContainerRow.id == container_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = await self._session.scalar(stmt)
        if row is None:
            raise ContainerNotFound("That container does not exist.")
        return row


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
