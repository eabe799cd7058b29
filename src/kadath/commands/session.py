"""Leaving the game."""

from __future__ import annotations

from kadath.commands.base import Command, Context


class Quit(Command):
    """Leave the world. Your character is saved where it stands."""

    names = ("quit", "logout")
    while_frozen = True
    usage = "quit"

    async def run(self, ctx: Context) -> str:
        ctx.quit_requested = True
        return "The shadows close behind you. Farewell."
