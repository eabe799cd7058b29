"""Admin commands: teleport, goto, broadcast."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.account import Role
from kadath.domain.errors import PlayerNotFound, RoomNotFound
from kadath.services import messenger as frames


class Teleport(Command):
    """Move a character to any room."""

    names = ("teleport",)
    usage = "teleport <player> <room id>"
    required_role = Role.ADMIN
    category = "admin"

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if len(words) != 2:
            raise self.usage_error()
        game = ctx.game
        target = game.presence.find(words[0])
        if target is None:
            raise PlayerNotFound(f"Nobody called {words[0]} is in the world.")
        room_id = _room(ctx, words[1])
        await game.movement.relocate(
            target,
            room_id,
            leave_text=f"{target.name} vanishes in a twist of air.",
            arrive_text=f"{target.name} appears out of nowhere.",
        )
        view, text = await game.rooms.describe(target)
        game.messenger.to_player(target.id, frames.room(view, text))
        return f"{target.name} is now in {game.world.rooms[target.room_id].name}."


class Goto(Command):
    """Go straight to any room."""

    names = ("goto",)
    usage = "goto <room id>"
    required_role = Role.ADMIN
    category = "admin"

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        game, me = ctx.game, ctx.player
        room_id = _room(ctx, ctx.args)
        await game.movement.relocate(
            me,
            room_id,
            leave_text=f"{me.name} vanishes.",
            arrive_text=f"{me.name} appears.",
        )
        view, text = await game.rooms.describe(me)
        game.messenger.to_player(me.id, frames.room(view, text))
        return ""


class Broadcast(Command):
    """Send a message to everyone in the world."""

    names = ("broadcast",)
    usage = "broadcast <message>"
    required_role = Role.ADMIN
    category = "admin"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await ctx.game.chat.broadcast_anywhere(ctx.player, ctx.args)


def _room(ctx: Context, room_id: str) -> str:
    if room_id not in ctx.game.world.rooms:
        raise RoomNotFound(f"There is no room '{room_id[:60]}'. Room ids look like arkham.square.")
    return room_id
