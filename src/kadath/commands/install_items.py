"""Installing the items feature: its services, the hooks other commands use, its commands."""

from __future__ import annotations

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
from kadath.services.containers import ContainerService
from kadath.services.game import Game
from kadath.services.inventory import InventoryService


def install_items(game: Game) -> list[Command]:
    """Build the inventory and container services, register them (and ``examine``, which
    ``look <thing>`` falls back on) in ``game.features``, and return the commands."""
    containers = ContainerService(
        game.world, game.uow, game.messenger, lambda: game.features.get("corpse_guard")
    )
    inventory = InventoryService(
        game.world, game.uow, game.messenger, containers, reading=game.reading
    )
    game.features["containers"] = containers
    game.features["inventory"] = inventory
    game.features["examine"] = inventory.examine
    return [
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
