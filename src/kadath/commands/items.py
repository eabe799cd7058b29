"""Handling things: inventory, get, drop, put, wear, wield, remove, examine, and containers'
lids and locks."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.services.containers import ContainerService
from kadath.services.inventory import InventoryService


def split_target(args: str, *separators: str) -> tuple[str, str | None]:
    """ "coin from chest" → ("coin", "chest"); the last separator word splits, and with none
    the target is None ("get all from" gives an empty target)."""
    words = args.split()
    for at in range(len(words) - 1, 0, -1):
        if words[at].lower() in separators:
            return " ".join(words[:at]), " ".join(words[at + 1 :])
    return " ".join(words), None


class ItemCommand(Command):
    category = "items"

    def __init__(self, inventory: InventoryService) -> None:
        self.inventory = inventory


class ContainerCommand(Command):
    category = "items"

    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers


class Inventory(ItemCommand):
    """List what you carry in your hands, what you wear, and what your worn bags hold."""

    names = ("inventory", "inv", "i")
    usage = "inventory"

    async def run(self, ctx: Context) -> str:
        return await self.inventory.inventory(ctx.player)


class Get(ItemCommand):
    """Pick something up from the floor, or take it out of a container. When your hands are
    full, it goes into a bag you wear. 'get all' takes everything; 'get all.coin' every coin;
    '2.coin' means the second coin."""

    names = ("get", "take")
    usage = "get <item>|all [from <container>]"

    async def run(self, ctx: Context) -> str:
        word, target = split_target(ctx.args, "from")
        if not word or target == "":
            raise self.usage_error()
        return await self.inventory.get(ctx.player, word, target)


class Drop(ItemCommand):
    """Put something you carry down on the floor. 'drop all' empties your hands."""

    names = ("drop",)
    usage = "drop <item>|all"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.inventory.drop(ctx.player, ctx.args)


class Put(ItemCommand):
    """Put something you hold into a chest here or a bag you carry or wear."""

    names = ("put",)
    usage = "put <item>|all in <container>"

    async def run(self, ctx: Context) -> str:
        word, target = split_target(ctx.args, "into", "in", "inside")
        if not word or not target:
            raise self.usage_error()
        return await self.inventory.put(ctx.player, word, target)


class Wear(ItemCommand):
    """Wear a piece of clothing, a bag or a weapon you hold; one thing per slot."""

    names = ("wear",)
    usage = "wear <item>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.inventory.wear(ctx.player, ctx.args)


class Wield(ItemCommand):
    """Take a weapon you hold in your hand, ready to fight."""

    names = ("wield",)
    usage = "wield <weapon>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.inventory.wield(ctx.player, ctx.args)


class Remove(ItemCommand):
    """Take off something you wear or wield; it goes back into your hands."""

    names = ("remove",)
    usage = "remove <item>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.inventory.remove(ctx.player, ctx.args)


class Examine(ItemCommand):
    """Look closely at something you carry, something on the floor or a container here.
    'examine in <container>' lists what it holds ('look in <container>' works too)."""

    names = ("examine", "x")
    usage = "examine <thing>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.inventory.examine(ctx.player, ctx.args)


class Open(ContainerCommand):
    """Open a chest, box or cabinet here, showing what is inside."""

    names = ("open",)
    usage = "open <container>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.containers.open(ctx.player, ctx.args)


class Close(ContainerCommand):
    """Close a chest, box or cabinet here."""

    names = ("close", "shut")
    usage = "close <container>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.containers.close(ctx.player, ctx.args)


class Unlock(ContainerCommand):
    """Unlock a container here with its key, which you must carry."""

    names = ("unlock",)
    usage = "unlock <container>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.containers.unlock(ctx.player, ctx.args)


class Lock(ContainerCommand):
    """Lock a closed container here with its key, which you must carry."""

    names = ("lock",)
    usage = "lock <container>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self.containers.lock(ctx.player, ctx.args)
