"""/api/professions, /api/rooms, /api/containers: the world as the API shows it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from kadath.domain.errors import NotAllowed
from kadath.domain.item import InInventory
from kadath.domain.world import Room
from kadath.web.dependencies import AccountDep, RuntimeDep
from kadath.web.routes import Routes
from kadath.web.schemas import ContainerOut, ItemOut, ProfessionOut, RoomOut, error_responses

router = Routes(tags=["world"])
_ERRORS = error_responses(401, 403, 404)


@router.get("/api/professions", response_model=list[ProfessionOut])
async def professions(runtime: RuntimeDep) -> list[ProfessionOut]:
    """The professions a new character may follow, with their stat requirements."""
    return [ProfessionOut.of(p) for p in await runtime.characters.professions()]


def _room_out(room: Room) -> RoomOut:
    return RoomOut(
        id=room.id,
        zone_id=room.zone_id,
        name=room.name,
        description=room.description,
        exits={d.value: target for d, target in room.exits.items()},
        flags=sorted(room.flags),
    )


@router.get("/api/rooms", response_model=list[RoomOut], responses=_ERRORS)
async def list_rooms(
    _account: AccountDep,
    runtime: RuntimeDep,
    zone: Annotated[str | None, Query(max_length=100)] = None,
) -> list[RoomOut]:
    """Every room of the world, or of one zone."""
    return [_room_out(r) for r in await runtime.persistence.list_rooms(zone)]


@router.get("/api/rooms/{room_id}", response_model=RoomOut, responses=_ERRORS)
async def get_room(room_id: str, _account: AccountDep, runtime: RuntimeDep) -> RoomOut:
    """One room."""
    return _room_out(await runtime.persistence.get_room_by_id(room_id))


@router.get("/api/containers/{container_id}", response_model=ContainerOut, responses=_ERRORS)
async def container(
    container_id: uuid.UUID,
    account: AccountDep,
    runtime: RuntimeDep,
    player_id: Annotated[
        uuid.UUID, Query(description="Your character, standing where the container is")
    ],
) -> ContainerOut:
    """A container's contents, for a character of yours that stands where it is (or carries
    it). Locked containers show no contents."""
    player = await runtime.characters.get(account, player_id)
    player = runtime.game.presence.get(player.id) or player
    async with runtime.persistence.unit_of_work() as uow:
        box = await uow.containers.get_container(container_id)
        carried = False
        if box.item_id is not None:
            item = await uow.items.get_item(box.item_id)
            carried = item.location == InInventory(player.id)
        if box.room_id != player.room_id and not carried:
            raise NotAllowed("Your character is not where that container is.")
        items = [] if box.locked else await uow.containers.contents(box.id)
    world_items = runtime.game.world.items
    return ContainerOut(
        id=box.id,
        kind=box.kind.value,
        name=box.name,
        capacity=box.capacity,
        locked=box.locked,
        room_id=box.room_id,
        items=[
            ItemOut(id=i.id, prototype_id=i.prototype_id, name=world_items[i.prototype_id].name)
            for i in items
            if i.prototype_id in world_items
        ],
    )
