"""Recovering lucidity: resting in a safe room calms the mind, a little at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from kadath.domain.errors import NotAllowed
from kadath.domain.lucidity import rest_recovery
from kadath.domain.player import Player
from kadath.domain.stats import MAX_LUCIDITY
from kadath.domain.world import World
from kadath.services import messenger as frames
from kadath.services.clock import Clock
from kadath.services.messenger import Messenger
from kadath.services.unit_of_work import UnitOfWork

REST_COOLDOWN_SECONDS = 30.0
REST_REASON = "rest"


class RestService:
    def __init__(
        self,
        world: World,
        uow: Callable[[], UnitOfWork],
        messenger: Messenger,
        clock: Clock,
        fighting: Callable[[uuid.UUID], bool],
    ) -> None:
        self._world, self._uow, self._messenger, self._clock = world, uow, messenger, clock
        self._fighting = fighting
        self._rested_at: dict[uuid.UUID, float] = {}

    async def rest(self, player: Player) -> int:
        """Regain lucidity in a safe room; returns how much. Raises NotAllowed."""
        self._check(player)
        gain = rest_recovery(self._world.rooms[player.room_id].safe)
        async with self._uow() as uow:
            uow.players.standing_in(player.room_id)  # serve --cluster: fenced by its zone
            lucidity = await uow.experience.update_player_stat_field(
                player.id, "lucidity", gain, REST_REASON
            )
        gained, player.lucidity = lucidity - player.lucidity, lucidity
        self._rested_at[player.id] = self._clock.monotonic()
        self._messenger.to_room(
            player.room_id,
            frames.message("emote", f"{player.name} sits down to rest a while."),
            exclude=[player.id],
        )
        self._messenger.to_player(player.id, frames.vitals(player))
        return max(0, gained)

    def _check(self, player: Player) -> None:
        if self._fighting(player.id):
            raise NotAllowed("You cannot rest while you are fighting!")
        if not self._world.rooms[player.room_id].safe:
            raise NotAllowed("You cannot rest here.")
        if player.lucidity >= MAX_LUCIDITY:
            raise NotAllowed("Your mind is as clear as it will ever be.")
        last = self._rested_at.get(player.id)
        if last is not None and self._clock.monotonic() - last < REST_COOLDOWN_SECONDS:
            raise NotAllowed("You have only just rested; your thoughts will not settle yet.")
