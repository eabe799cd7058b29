"""Installing channels: their services (for the composition root to wire), their commands."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.commands.base import Command
from kadath.commands.channels import (
    ChannelControl,
    Channels,
    ChannelSpeak,
    History,
    Ignore,
    Unignore,
)
from kadath.domain.channel import CHANNELS
from kadath.services.channel_history import ChannelHistory
from kadath.services.channel_members import ChannelMembers
from kadath.services.channels import ChannelService
from kadath.services.chat import SpeechGuard, allow_speech
from kadath.services.game import Game
from kadath.services.ignores import IgnoreService


@dataclass(frozen=True)
class ChannelsFeature:
    channels: ChannelService
    members: ChannelMembers
    history: ChannelHistory
    commands: list[Command]


def install_channels(
    game: Game, ignores: IgnoreService, can_speak: SpeechGuard = allow_speech
) -> ChannelsFeature:
    """Build the channel services and their commands; members' settings follow characters in
    and out of play (on ``game.bus``). ``can_speak`` is asked before anything is said."""
    members = ChannelMembers(game.presence, game.uow, game.reading)
    members.subscribe(game.bus)
    history = ChannelHistory(game.uow, game.reading)
    channels = ChannelService(
        game.presence,
        game.messenger,
        members,
        history,
        ignores,
        clock=game.clock,
        can_speak=can_speak,
    )
    commands: list[Command] = [
        Channels(channels),
        ChannelControl(channels),
        *(ChannelSpeak(channels, c) for c in CHANNELS),
        History(channels),
        Ignore(ignores),
        Unignore(ignores),
    ]
    return ChannelsFeature(channels, members, history, commands)
