"""Channels: who may join which, what a player's setting on one is, and a message said on one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from kadath.domain.account import Role
from kadath.domain.errors import NotAllowed, NotFound
from kadath.domain.player import Player

HISTORY_KEPT = 100  # messages of each channel kept in the database
HISTORY_SHOWN = 20  # what ``history <channel>`` shows unless asked for more


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    aliases: tuple[str, ...] = ()
    default_on: bool = True  # a character that never touched it is on it (if it may join)
    staff_only: bool = False


CHANNELS = (
    Channel("ooc"),
    Channel("newbie"),
    Channel("builders", ("staff",), staff_only=True),
)
_BY_NAME = {n: c for c in CHANNELS for n in (c.name, *c.aliases)}


def find_channel(name: str) -> Channel:
    """A channel by name or alias, in any case. Raises NotFound."""
    channel = _BY_NAME.get(name.casefold())
    if channel is None:
        known = ", ".join(c.name for c in CHANNELS)
        raise NotFound(f"There is no channel called {name[:30]}. Channels: {known}.")
    return channel


def can_join(channel: Channel, player: Player) -> bool:
    """Whether ``player`` may be on ``channel`` (staff channels: builders and above)."""
    return not channel.staff_only or player.role.at_least(Role.BUILDER)


def check_can_join(channel: Channel, player: Player) -> None:
    """Raises NotAllowed."""
    if not can_join(channel, player):
        raise NotAllowed(f"The {channel.name} channel is for staff only.")


@dataclass(frozen=True, slots=True)
class Membership:
    """One character's setting on one channel; ``muted`` hides it without leaving it."""

    channel: str
    joined: bool
    muted: bool = False

    @property
    def listening(self) -> bool:
        return self.joined and not self.muted


def membership(channel: Channel, stored: dict[str, Membership]) -> Membership:
    """The setting a character has on ``channel``: what was stored, else the channel's default."""
    return stored.get(channel.name) or Membership(channel.name, channel.default_on)


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    channel: str
    sender_id: uuid.UUID | None
    sender: str
    text: str
    sent_at: datetime

    def line(self) -> str:
        return f"[{self.channel}] {self.sender}: {self.text}"
