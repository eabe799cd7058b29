"""Getting around: go and the direction shortcuts."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.world import Direction
from kadath.services import messenger as frames

SHORTCUTS = {
    "n": Direction.NORTH,
    "s": Direction.SOUTH,
    "e": Direction.EAST,
    "w": Direction.WEST,
    "ne": Direction.NORTHEAST,
    "nw": Direction.NORTHWEST,
    "se": Direction.SOUTHEAST,
    "sw": Direction.SOUTHWEST,
    "u": Direction.UP,
    "d": Direction.DOWN,
}


def parse_direction(word: str) -> Direction | None:
    word = word.lower()
    if word in SHORTCUTS:
        return SHORTCUTS[word]
    try:
        return Direction(word)
    except ValueError:
        return None


async def walk(ctx: Context, direction: Direction) -> str:
    await ctx.game.movement.go(ctx.player, direction)
    view, text = await ctx.game.rooms.describe(ctx.player)
    ctx.game.messenger.to_player(ctx.player.id, frames.room(view, text))
    return ""


class Go(Command):
    """Walk through an exit: go north, or just n, s, e, w, ne, nw, se, sw, u, d."""

    names = ("go", "walk", "move")
    usage = "go <direction>"
    category = "world"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        direction = parse_direction(words[0]) if len(words) == 1 else None
        if direction is None:
            raise self.usage_error()
        return await walk(ctx, direction)


class Walk(Command):
    """Walk in one direction."""

    category = "world"

    def __init__(self, direction: Direction, *aliases: str) -> None:
        self.direction = direction
        self.names = (direction.value, *aliases)  # type: ignore[misc]
        self.usage = direction.value  # type: ignore[misc]

    async def run(self, ctx: Context) -> str:
        return await walk(ctx, self.direction)


def direction_commands() -> list[Command]:
    aliases: dict[Direction, list[str]] = {}
    for short, direction in SHORTCUTS.items():
        aliases.setdefault(direction, []).append(short)
    return [Walk(d, *aliases.get(d, [])) for d in Direction]
