"""Builder commands: reload the world, dig, describe, rename, exits, flags, save a zone.

Each asks for the builder role (builders, moderators and admins may build)."""

from __future__ import annotations

from typing import get_args

from kadath.commands.base import Command, Context
from kadath.domain.account import Role
from kadath.domain.errors import InvalidInput
from kadath.domain.world import Direction
from kadath.services import messenger as frames
from kadath.services.building import Builder, NewContainer
from kadath.services.world_reload import WorldReloader
from kadath.world.schema import RoomFlag

FLAGS = get_args(RoomFlag)
MAX_PLACED = 20
_SHORT = {"n": "north", "s": "south", "e": "east", "w": "west", "u": "up", "d": "down"}
_SHORT |= {"ne": "northeast", "nw": "northwest", "se": "southeast", "sw": "southwest"}


class BuilderCommand(Command):
    required_role = Role.BUILDER
    category = "building"

    def __init__(self, builder: Builder) -> None:
        self._builder = builder

    async def _show_room(self, ctx: Context) -> None:
        view, text = await ctx.game.rooms.describe(ctx.player)
        ctx.game.messenger.to_player(ctx.player.id, frames.room(view, text))


class Reload(Command):
    """Re-read the world files and apply them without disconnecting anyone: rooms, exits,
    NPCs, spawn rules, items and help topics. Files that would not load at start-up are
    refused with the loader's message, and nothing changes. Unsaved building is replaced."""

    names = ("reload",)
    usage = "reload world"
    required_role = Role.BUILDER
    category = "building"

    def __init__(self, reloader: WorldReloader) -> None:
        self._reloader = reloader

    async def run(self, ctx: Context) -> str:
        if ctx.args != "world":
            raise self.usage_error()
        report = await self._reloader.reload()
        return "\n".join(report.lines())


class Dig(BuilderCommand):
    """Dig a new room of this zone through an exit, with the way back."""

    names = ("dig",)
    usage = "dig <direction> <new room id> [name]"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) < 2:
            raise self.usage_error()
        direction, room_id = direction_of(words[0]), words[1]
        name = " ".join(words[2:]) or room_id.partition(".")[2].replace("_", " ").title()
        room = self._builder.dig(ctx.player, direction, room_id, name or room_id)
        return f"You dig {direction.value} to {room.name} ({room.id})."


class Describe(BuilderCommand):
    """Set the description of the room you stand in."""

    names = ("describe",)
    usage = "describe <text>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        self._builder.describe(ctx.player, ctx.args)
        await self._show_room(ctx)
        return "Described."


class Rename(BuilderCommand):
    """Set the name of the room you stand in."""

    names = ("rename",)
    usage = "rename <name>"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        self._builder.rename(ctx.player, ctx.args)
        return f"This room is now called {ctx.args}."


class ExitCommand(BuilderCommand):
    """Add a two-way exit to an existing room, or remove an exit and its way back."""

    names = ("exit",)
    usage = "exit add <direction> <room id> | exit remove <direction>"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) == 3 and words[0] == "add":
            direction = direction_of(words[1])
            self._builder.add_exit(ctx.player, direction, words[2])
            return f"An exit {direction.value} now leads to {words[2]}, and back."
        if len(words) == 2 and words[0] == "remove":
            direction = direction_of(words[1])
            self._builder.remove_exit(ctx.player, direction)
            return f"The exit {direction.value} is gone."
        raise self.usage_error()


class Flag(BuilderCommand):
    """Add or remove a room flag: safe, pvp, dark or indoors."""

    names = ("flag",)
    usage = "flag add|remove <flag>"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) != 2 or words[0] not in ("add", "remove"):
            raise self.usage_error()
        if words[1] not in FLAGS:
            raise InvalidInput(f"Unknown flag '{words[1][:30]}'; flags are {', '.join(FLAGS)}.")
        self._builder.set_flag(ctx.player, words[1], on=words[0] == "add")
        return f"Flag '{words[1]}' {'added' if words[0] == 'add' else 'removed'}."


class Place(BuilderCommand):
    """Put items on this room's floor, or a container (a chest, a cabinet) in this room, now
    and in the zone file (saved with 'save zone'). A container is empty; 'key=<key item id>'
    gives it a lock that key opens, 'locked' locks it."""

    names = ("place",)
    usage = (
        "place <item id> [count] | "
        "place container <id> <capacity> <name> [key=<key item id>] [locked]"
    )

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if words[:1] == ["container"]:
            placed = await self._builder.place_container(ctx.player, self._container(words[1:]))
            lock = f", locked by {placed.key_prototype_id}" if placed.locked else ""
            return f"Placed {placed.name} ({placed.id}, holds {placed.capacity}{lock}) here."
        if not 1 <= len(words) <= 2 or (len(words) == 2 and not words[1].isdigit()):
            raise self.usage_error()
        count = int(words[1]) if len(words) == 2 else 1
        if not 1 <= count <= MAX_PLACED:
            raise InvalidInput(f"Place between 1 and {MAX_PLACED} at a time.")
        await self._builder.place_item(ctx.player, words[0], count)
        return f"Placed {count} × {words[0]} here."

    def _container(self, words: list[str]) -> NewContainer:
        key = next((w.removeprefix("key=") for w in words if w.startswith("key=")), None)
        rest = [w for w in words if not w.startswith("key=") and w != "locked"]
        if len(rest) < 3 or not rest[1].isdigit():
            raise self.usage_error()
        locked = "locked" in words
        return NewContainer(rest[0], " ".join(rest[2:]), int(rest[1]), key or None, locked)


class SpawnRuleCommand(BuilderCommand):
    """Add a spawn rule for this room (at most <max> alive, each missing one appearing with
    <chance> when the world is topped up), or remove this room's rules for an NPC."""

    names = ("spawnrule",)
    usage = "spawnrule add <npc id> [max] [chance] | spawnrule remove <npc id>"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) == 2 and words[0] == "remove":
            removed = self._builder.remove_spawns(ctx.player, words[1])
            return f"Removed {removed} spawn rule(s) for {words[1]}."
        if not 2 <= len(words) <= 4 or words[0] != "add":
            raise self.usage_error()
        try:
            most = int(words[2]) if len(words) > 2 else 1
            chance = float(words[3]) if len(words) > 3 else 1.0
        except ValueError:
            raise self.usage_error() from None
        rule = self._builder.add_spawn(ctx.player, words[1], most, chance)
        return f"Spawn rule added: up to {rule.max_population} × {rule.npc_id}, chance {chance:g}."


class Save(BuilderCommand):
    """Write the zone you stand in back to its file (the old one kept as <file>.bak)."""

    names = ("save",)
    usage = "save zone"

    async def run(self, ctx: Context) -> str:
        if ctx.args != "zone":
            raise self.usage_error()
        path = await self._builder.save_zone(ctx.player)
        return f"Saved {path.parent.name}/{path.name}."


def direction_of(word: str) -> Direction:
    """Raises InvalidInput."""
    try:
        return Direction(_SHORT.get(word.lower(), word.lower()))
    except ValueError:
        known = ", ".join(d.value for d in Direction)
        raise InvalidInput(f"'{word[:20]}' is not a direction; use one of {known}.") from None


def building_commands(builder: Builder, reloader: WorldReloader) -> list[Command]:
    """The commands of this module, to add to the command table."""
    return [
        Reload(reloader),
        Dig(builder),
        Describe(builder),
        Rename(builder),
        ExitCommand(builder),
        Flag(builder),
        Place(builder),
        SpawnRuleCommand(builder),
        Save(builder),
    ]
