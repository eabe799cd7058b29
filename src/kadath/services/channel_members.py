"""Who is on which channel: each online character's settings, loaded as it enters play and
kept in memory; a change is written first, then kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from kadath.domain.channel import CHANNELS, Channel, Membership, can_join, membership
from kadath.domain.events import PlayerLoggedIn, PlayerLoggedOut
from kadath.domain.player import Player
from kadath.services.events import EventBus
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork


class ChannelMembers:
    def __init__(
        self,
        presence: Presence,
        uow: Callable[[], UnitOfWork],
        reading: Callable[[], UnitOfWork],
    ) -> None:
        self._presence, self._uow, self._reading = presence, uow, reading
        self._stored: dict[uuid.UUID, dict[str, Membership]] = {}

    def subscribe(self, bus: EventBus) -> None:
        """Load a character's settings as it enters play; drop them as it leaves."""
        bus.subscribe(PlayerLoggedIn, lambda e: self.load(e.player_id))
        bus.subscribe(PlayerLoggedOut, lambda e: self.forget(e.player_id))

    async def load(self, player_id: uuid.UUID) -> None:
        async with self._reading() as uow:
            stored = await uow.channels.memberships(player_id)
        if player_id in self._presence:  # it may have left while the read ran
            self._stored[player_id] = {m.channel: m for m in stored}

    def forget(self, player_id: uuid.UUID) -> None:
        self._stored.pop(player_id, None)

    async def of(self, player: Player) -> dict[str, Membership]:
        """``player``'s setting on every channel it may join (loaded now if entering play
        could not, in an outage)."""
        if player.id not in self._stored:
            await self.load(player.id)
        stored = self._stored.get(player.id, {})
        return {c.name: membership(c, stored) for c in CHANNELS if can_join(c, player)}

    async def change(self, player: Player, changed: Membership) -> None:
        """Store a setting, then keep it."""
        async with self._uow() as uow:
            await uow.channels.save_membership(player.id, changed)
        if player.id in self._stored:
            self._stored[player.id][changed.channel] = changed

    def listeners(self, channel: Channel) -> list[uuid.UUID]:
        """The online characters on ``channel`` that have not muted it."""
        heard = []
        for player_id, stored in self._stored.items():
            player = self._presence.get(player_id)
            if player is None or not membership(channel, stored).listening:
                continue
            if can_join(channel, player):
                heard.append(player_id)
        return heard
