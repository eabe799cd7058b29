"""Channels and ignoring: channels, channel, ooc/newbie/builders, history, ignore, unignore."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.channel import HISTORY_SHOWN, Channel
from kadath.services.channels import ChannelService
from kadath.services.ignores import IgnoreService


class Channels(Command):
    """List the channels you may join, whether you are on each and whether you muted it."""

    names = ("channels",)
    usage = "channels"
    category = "talk"

    def __init__(self, channels: ChannelService) -> None:
        self._channels = channels

    async def run(self, ctx: Context) -> str:
        lines = ["Channels:"]
        for setting in await self._channels.listing(ctx.player):
            state = "on" if setting.joined else "off"
            lines.append(f"  {setting.channel:<10}{state}{', muted' if setting.muted else ''}")
        lines.append("Speak with: <channel> <text>. See: channel, history.")
        return "\n".join(lines)


class ChannelControl(Command):
    """Join, leave, mute or unmute a channel, or speak on it: channel mute ooc,
    channel ooc Hello all. Muting hides a channel without leaving it."""

    names = ("channel",)
    usage = "channel join|leave|mute|unmute <channel>  or  channel <channel> <text>"
    category = "talk"

    def __init__(self, channels: ChannelService) -> None:
        self._channels = channels

    async def run(self, ctx: Context) -> str:
        first, _, rest = ctx.args.partition(" ")
        rest = rest.strip()
        verb = first.lower()
        actions = {
            "join": self._channels.join,
            "leave": self._channels.leave,
            "mute": self._channels.mute,
            "unmute": self._channels.unmute,
        }
        if verb in actions and rest and " " not in rest:
            return await actions[verb](ctx.player, rest)
        if not first or not rest:
            raise self.usage_error()
        return await self._channels.speak(ctx.player, first, rest)


class ChannelSpeak(Command):
    """Speak on a channel, to everyone on it across the world."""

    category = "talk"

    def __init__(self, channels: ChannelService, channel: Channel) -> None:
        self._channels, self._channel = channels, channel
        self.names = (channel.name, *channel.aliases)  # type: ignore[misc]
        self.usage = f"{channel.name} <text>"  # type: ignore[misc]

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self._channels.speak(ctx.player, self._channel.name, ctx.args)


class History(Command):
    """Show a channel's latest messages (20 unless you ask for up to 100): history ooc 50"""

    names = ("history",)
    usage = "history <channel> [count]"
    category = "talk"

    def __init__(self, channels: ChannelService) -> None:
        self._channels = channels

    async def run(self, ctx: Context) -> str:
        words = ctx.words()
        if not 1 <= len(words) <= 2 or (len(words) == 2 and not words[1].isdigit()):
            raise self.usage_error()
        count = int(words[1]) if len(words) == 2 else HISTORY_SHOWN
        messages = await self._channels.history(ctx.player, words[0], count)
        if not messages:
            return f"Nothing has been said on {words[0].lower()} yet."
        return "\n".join(f"{m.sent_at:%H:%M} {m.line()}" for m in messages)


class Ignore(Command):
    """Hear nothing more from a character, on any channel, in say, emote or whisper.
    Without a name: list whom you ignore."""

    names = ("ignore",)
    usage = "ignore [player]"
    category = "talk"

    def __init__(self, ignores: IgnoreService) -> None:
        self._ignores = ignores

    async def run(self, ctx: Context) -> str:
        if ctx.args:
            return await self._ignores.ignore(ctx.player, ctx.args)
        names = await self._ignores.listing(ctx.player)
        return f"You ignore: {', '.join(names)}." if names else "You ignore nobody."


class Unignore(Command):
    """Hear a character you ignored again."""

    names = ("unignore",)
    usage = "unignore <player>"
    category = "talk"

    def __init__(self, ignores: IgnoreService) -> None:
        self._ignores = ignores

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self._ignores.unignore(ctx.player, ctx.args)
