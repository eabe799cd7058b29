"""Which chat channel a typed command speaks on, so a client's chat tab also shows what the
player said themselves (the game answers the speaker with a reply, not a message)."""

from __future__ import annotations

from collections.abc import Callable

from kadath.commands.base import CommandTable
from kadath.commands.chat import Emote, Say, Whisper

ChannelOf = Callable[[str], str | None]
_SHORTCUTS = {"'": "say", ":": "emote"}


def channel_finder(table: CommandTable) -> ChannelOf:
    """A function from a typed line to ``say``, ``emote``, ``whisper`` or None."""

    def channel_of(text: str) -> str | None:
        if text[:1] in _SHORTCUTS:
            return _SHORTCUTS[text[:1]]
        words = text.split(maxsplit=1)
        command = table.lookup(words[0]) if words else None
        if isinstance(command, Say):
            return "say"
        if isinstance(command, Emote):
            return "emote"
        if isinstance(command, Whisper):
            return "whisper"
        return None

    return channel_of
