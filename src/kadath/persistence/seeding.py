"""Placing the world files' items and containers in the database, once each."""

from __future__ import annotations

from kadath.domain.item import ContainerKind, InContainer, OnFloor
from kadath.domain.world import ItemStack, World
from kadath.persistence.uow import UnitOfWork


async def seed_world(uow: UnitOfWork, world: World) -> int:
    """Create what the world files place and the database lacks; returns the items placed.

    Each room's floor items and each container are claimed by a seed key, so an item a player
    picked up is not put back on the next start, and a container added to the files later is
    still created."""
    placed = 0
    for room in world.rooms.values():
        if room.items and await uow.items.ensure_seeded(f"room:{room.id}"):
            placed += await uow.items.create_items(_expand(room.items), OnFloor(room.id))
    for placement in world.containers.values():
        if not await uow.items.ensure_seeded(f"container:{placement.id}"):
            continue
        if await uow.containers.get_container_by_world_key(placement.id) is not None:
            continue  # placed before seed claims existed
        container = await uow.containers.create_container(
            kind=ContainerKind.ENVIRONMENT,
            name=placement.name,
            capacity=placement.capacity,
            room_id=placement.room_id,
            world_key=placement.id,
            locked=placement.locked,
            key_prototype_id=placement.key_prototype_id,
            metadata={"keywords": list(placement.keywords), "description": placement.description},
        )
        placed += await uow.items.create_items(
            _expand(placement.contents), InContainer(container.id)
        )
    return placed


def _expand(stacks: tuple[ItemStack, ...]) -> list[str]:
    return [stack.prototype_id for stack in stacks for _ in range(stack.count)]
