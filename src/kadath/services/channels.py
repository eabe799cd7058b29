"""Channels: world-wide talk on ooc, newbie and builders, with joining, muting and history.

A message goes to every online character on the channel who has not muted it and does not
ignore the speaker (the speaker too, so everyone reads the same line); it is then kept in the
channel's history, which is written behind (``ChannelHistory``).

In a cluster (``kadath serve --cluster``) the line is also handed to ``elsewhere`` (a port the
cluster node sets; None in one process), which tells the other processes; each of them
delivers it to its own characters on the channel (``heard``: their settings and ignores are
loaded where they are in play) and keeps it in its history, which only the speaker's process
stores."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from kadath.domain.channel import (
    HISTORY_KEPT,
    Channel,
    ChannelMessage,
    Membership,
    check_can_join,
    find_channel,
)
from kadath.domain.errors import InvalidInput, NotAllowed
from kadath.domain.player import Player
from kadath.services.channel_history import ChannelHistory
from kadath.services.channel_members import ChannelMembers
from kadath.services.chat import SpeechGuard, allow_speech, speech
from kadath.services.clock import Clock
from kadath.services.ignores import IgnoreService
from kadath.services.messenger import Frame, Messenger
from kadath.services.presence import Presence


def channel_frame(message: ChannelMessage) -> Frame:
    return {
        "type": "channel",
        "channel": message.channel,
        "from": message.sender,
        "text": message.text,
    }


class ChannelsElsewhere(Protocol):
    """The other processes of a cluster, as channels see them (``ChannelService.elsewhere``)."""

    async def said(self, message: ChannelMessage) -> None:
        """Tell the other processes ``message`` (allowed, cleaned, delivered here already)."""
        ...


class ChannelService:
    def __init__(
        self,
        presence: Presence,
        messenger: Messenger,
        members: ChannelMembers,
        history: ChannelHistory,
        ignores: IgnoreService,
        *,
        clock: Clock,
        can_speak: SpeechGuard = allow_speech,
    ) -> None:
        self._presence, self._messenger = presence, messenger
        self._members, self._history, self._ignores = members, history, ignores
        self._clock, self._can_speak = clock, can_speak
        self.elsewhere: ChannelsElsewhere | None = None  # set by ``kadath serve --cluster``

    async def listing(self, player: Player) -> list[Membership]:
        """``player``'s setting on each channel it may join."""
        return list((await self._members.of(player)).values())

    async def speak(self, player: Player, name: str, text: str) -> str:
        """Say ``text`` on a channel; the speaker reads it as a channel frame too, so the
        reply is empty. Raises NotFound, NotAllowed, InvalidInput."""
        channel = find_channel(name)
        check_can_join(channel, player)
        text = speech(text)
        setting = (await self._members.of(player))[channel.name]
        if not setting.joined:
            raise NotAllowed(f"You are not on {channel.name}; type: channel join {channel.name}")
        if setting.muted:
            raise NotAllowed(f"You have muted {channel.name}; type: channel unmute {channel.name}")
        self._can_speak(player)
        message = ChannelMessage(channel.name, player.id, player.name, text, self._clock.now())
        self._send(channel, message)
        self._history.add(message)
        if self.elsewhere is not None:
            await self.elsewhere.said(message)
        return ""

    def heard(self, message: ChannelMessage) -> None:
        """A line said on another process of a cluster (allowed and cleaned there): deliver it
        to this process's characters on the channel and keep it in the history, unstored (the
        speaker's process stores it). Raises NotFound for a channel unknown here."""
        self._send(find_channel(message.channel), message)
        self._history.remember(message)

    async def join(self, player: Player, name: str) -> str:
        channel = find_channel(name)
        check_can_join(channel, player)
        setting = (await self._members.of(player))[channel.name]
        if setting.joined:
            return f"You are already on {channel.name}."
        await self._members.change(player, Membership(channel.name, joined=True))
        return f"You join {channel.name}. Speak on it with: {channel.name} <text>"

    async def leave(self, player: Player, name: str) -> str:
        channel, setting = await self._setting(player, name)
        if not setting.joined:
            return f"You are not on {channel.name}."
        await self._members.change(player, Membership(channel.name, joined=False))
        return f"You leave {channel.name}."

    async def mute(self, player: Player, name: str) -> str:
        channel, setting = await self._setting(player, name)
        if not setting.joined:
            raise NotAllowed(f"You are not on {channel.name}.")
        if setting.muted:
            return f"{channel.name} is already muted."
        await self._members.change(player, replace(setting, muted=True))
        return f"You mute {channel.name}: you stay on it but see nothing of it until you unmute it."

    async def unmute(self, player: Player, name: str) -> str:
        channel, setting = await self._setting(player, name)
        if not setting.muted:
            return f"{channel.name} is not muted."
        await self._members.change(player, replace(setting, muted=False))
        return f"You unmute {channel.name}."

    async def history(self, player: Player, name: str, count: int) -> list[ChannelMessage]:
        """The channel's last ``count`` messages (at most 100), less those of characters
        ``player`` ignores. Raises NotFound, NotAllowed, InvalidInput."""
        channel = find_channel(name)
        check_can_join(channel, player)
        if not 1 <= count <= HISTORY_KEPT:
            raise InvalidInput(f"Ask for 1 to {HISTORY_KEPT} messages.")
        recent = self._history.recent(channel.name, count)
        return [
            m
            for m in recent
            if m.sender_id is None or not self._ignores.ignores(player.id, m.sender_id)
        ]

    def _send(self, channel: Channel, message: ChannelMessage) -> None:
        frame = channel_frame(message)
        ignorers = self._ignores.ignorers_of(message.sender_id) if message.sender_id else set()
        listeners = self._members.listeners(channel)
        self._messenger.to_players((p for p in listeners if p not in ignorers), frame)

    async def _setting(self, player: Player, name: str) -> tuple[Channel, Membership]:
        channel = find_channel(name)
        check_can_join(channel, player)
        return channel, (await self._members.of(player))[channel.name]
