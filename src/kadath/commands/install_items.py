"""Installing the items feature: its services (for the composition root to wire), its commands."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.commands.base import Command
from kadath.commands.items import (
    Close,
    Drop,
    Examine,
    Get,
    Inventory,
    Lock,
    Open,
    Put,
    Remove,
    Unlock,
    Wear,
    Wield,
)
from kadath.services.containers import ContainerService, CorpseGuard
from kadath.services.game import Game
from kadath.services.inventory import InventoryService


@dataclass(frozen=True)
class ItemsFeature:
    inventory: InventoryService
    containers: ContainerService
    commands: list[Command]


def install_items(game: Game, corpse_guard: CorpseGuard | None = None) -> ItemsFeature:
    """Build the inventory and container services and their commands; ``corpse_guard`` (from
    the corpse keeper) refuses looting a corpse that is not yours yet."""
    containers = ContainerService(game.world, game.uow, game.messenger, corpse_guard)
    inventory = InventoryService(
        game.world, game.uow, game.messenger, containers, reading=game.reading
    )
    commands: list[Command] = [
        Inventory(inventory),
        Get(inventory),
        Drop(inventory),
        Put(inventory),
        Wear(inventory),
        Wield(inventory),
        Remove(inventory),
        Examine(inventory),
        Open(containers),
        Close(containers),
        Unlock(containers),
        Lock(containers),
    ]
    return ItemsFeature(inventory, containers, commands)
