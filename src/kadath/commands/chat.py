"""Talking: say, emote, whisper."""

from __future__ import annotations

from kadath.commands.base import Command, Context


class Say(Command):
    """Say something to everyone in the room. A leading ' works too: 'hello"""

    names = ("say",)
    speech = True
    usage = "say <message>"
    category = "talk"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await ctx.game.chat.say(ctx.player, ctx.args)


class Emote(Command):
    """Act something out for the room to see: emote shivers. A leading : works too."""

    names = ("emote", "me")
    speech = True
    usage = "emote <action>"
    category = "talk"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return ctx.game.chat.emote(ctx.player, ctx.args)


class Whisper(Command):
    """Whisper to one character anywhere in the world; nobody else hears."""

    names = ("whisper", "tell", "wh")
    speech = True
    usage = "whisper <player> <message>"
    category = "talk"

    async def run(self, ctx: Context) -> str:
        target, _, text = ctx.args.partition(" ")
        if not target or not text.strip():
            raise self.usage_error()
        return await ctx.game.chat.whisper_anywhere(ctx.player, target, text)
