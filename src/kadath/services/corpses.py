"""Corpses after the death: who may loot them (the guard) and their decay (a loop step).

Decay follows `domain.corpse`: whatever is left spills onto the room's floor, then the corpse
is removed, each corpse in its own unit of work so one failure never holds up the rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from kadath.domain.corpse import (
    CorpseRules,
    can_loot,
    decay_disposition,
    decay_message,
)
from kadath.domain.errors import ContainerNotFound, KadathError, NotAllowed
from kadath.domain.item import Container, ContainerKind, InContainer, OnFloor
from kadath.domain.player import Player
from kadath.services import messenger as frames
from kadath.services.clock import Clock
from kadath.services.messenger import Messenger
from kadath.services.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)
DECAY_CHECK_SECONDS = 10.0
NOT_YOURS = "That corpse is not yours to loot yet."


class CorpseKeeper:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        messenger: Messenger,
        clock: Clock,
        rules: CorpseRules,
        *,
        reading: Callable[[], UnitOfWork],
    ) -> None:
        self._uow, self._messenger, self._clock, self._rules = uow, messenger, clock, rules
        self._reading = reading  # finding what is due only reads: most checks find nothing
        # Whether this process runs a room's zone (``HeldZones.runs_room``; one process: all).
        self.runs_room: Callable[[str], bool] = lambda _room: True

    def guard(self, player: Player, container: Container) -> None:
        """Call before taking from a container. Raises NotAllowed while a corpse is not theirs."""
        if container.kind is not ContainerKind.CORPSE:
            return
        died = died_at(container)
        owner = str(container.owner_player_id) if container.owner_player_id else None
        if died is not None and not can_loot(
            str(player.id), owner, died, self._clock.now(), self._rules
        ):
            raise NotAllowed(NOT_YOURS)

    async def decay_step(self, _tick: float) -> None:
        """The game loop's step (its monotonic tick is not the wall clock corpses use)."""
        await self.decay()

    async def decay(self) -> int:
        """Spill and remove every corpse whose time has come; returns how many went."""
        async with self._reading() as uow:
            due = await uow.containers.list_decayed(self._clock.now())
        gone = 0
        for corpse in due:
            if corpse.kind is not ContainerKind.CORPSE or corpse.room_id is None:
                continue
            if not self.runs_room(corpse.room_id):
                continue  # its zone's holder decays it
            try:
                spilled = await self._crumble(corpse, corpse.room_id)
            except ContainerNotFound:
                continue  # someone else's decay got there first
            except KadathError:
                log.exception("corpse_decay_failed", corpse=str(corpse.id))
                continue
            gone += 1
            text = decay_message(corpse.name, decay_disposition(spilled))
            self._messenger.to_room(corpse.room_id, frames.event("decayed", text))
        return gone

    async def _crumble(self, corpse: Container, room_id: str) -> int:
        async with self._uow() as uow:
            # Take the corpse's row lock first, so nothing can be put in between the spill
            # and the delete (which would take it along).
            await uow.containers.update_container(corpse.id, locked=True)
            spilled = await uow.items.move_all(InContainer(corpse.id), OnFloor(room_id))
            await uow.containers.delete_container(corpse.id)
        return spilled


def died_at(corpse: Container) -> datetime | None:
    """When the corpse's owner died (stored by the death service), else when it was made."""
    stamp = corpse.metadata.get("died_at")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            log.warning("corpse_bad_died_at", corpse=str(corpse.id), value=stamp)
    return corpse.created_at
