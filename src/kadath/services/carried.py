"""What a character carries, as data rather than a sentence: for clients that keep an inventory
window (telnet's GMCP ``Char.Items.List``). A read-only use case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kadath.domain.item import InInventory
from kadath.domain.world import World
from kadath.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class CarriedItem:
    id: str
    name: str
    worn_slot: str | None  # "wield" for a weapon in hand
    wearable: bool
    container: bool


class CarriedItems:
    def __init__(self, world: World, reading: Callable[[], UnitOfWork]) -> None:
        self._world, self._reading = world, reading

    async def of(self, player_id: uuid.UUID) -> list[CarriedItem]:
        """What the character holds and wears (not what worn bags hold), oldest first."""
        async with self._reading() as uow:
            items = await uow.items.items_at(InInventory(player_id))
        carried = []
        for item in items:
            proto = self._world.items[item.prototype_id]
            carried.append(
                CarriedItem(
                    id=str(item.id),
                    name=proto.name,
                    worn_slot=item.worn_slot,
                    wearable=proto.wearable,
                    container=proto.capacity > 0,
                )
            )
        return carried
