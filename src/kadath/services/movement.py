"""Walking between rooms: who sees you leave and arrive, first visits, the lucidity a room costs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from kadath.domain.errors import NotAllowed
from kadath.domain.events import PlayerEnteredRoom, PlayerLeftRoom
from kadath.domain.experience import EXPLORATION_XP
from kadath.domain.player import Player
from kadath.domain.world import Direction, World
from kadath.persistence.repositories import ExperienceGain
from kadath.services import messenger as frames
from kadath.services.events import EventBus
from kadath.services.messenger import Frame, Messenger
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork

GNAWS = "Something here gnaws at the edges of your mind."


class FirstVisitRecorder(Protocol):
    """Persistence's writer of a walk's visits (``persistence.first_visits``), coalescing them
    across walkers; one process only (``serve --cluster`` passes none: its writes are fenced)."""

    async def record(self, player: Player, room_id: str, amount: int) -> ExperienceGain | None:
        """Record the visit; pay ``amount`` experience if it is the first (the row's new
        values), else None. Changes no ``Player``. Raises DatabaseUnavailable."""

    async def gnaw(self, player_id: uuid.UUID, cost: int) -> int:
        """Take ``cost`` lucidity in a statement of its own (no ORM session); the row's new
        lucidity. Changes no ``Player``. Raises DatabaseUnavailable."""


class MovementService:
    def __init__(
        self,
        world: World,
        presence: Presence,
        messenger: Messenger,
        bus: EventBus,
        uow: Callable[[], UnitOfWork],
        first_visits: FirstVisitRecorder | None = None,
    ) -> None:
        self._world, self._presence, self._messenger = world, presence, messenger
        self._bus, self._uow, self._first_visits = bus, uow, first_visits
        self.guards: list[Callable[[Player], None]] = []

    async def go(self, player: Player, direction: Direction) -> str:
        """Walk one exit; returns the id of the room reached. Raises NotAllowed."""
        room = self._world.rooms[player.room_id]
        destination = room.exits.get(direction)
        if destination is None:
            raise NotAllowed("You cannot go that way.")
        for guard in self.guards:
            guard(player)
        await self.relocate(
            player,
            destination,
            leave_text=f"{player.name} leaves {direction.value}.",
            arrive_text=f"{player.name} arrives {direction.arrival}.",
        )
        return destination

    async def relocate(
        self, player: Player, room_id: str, *, leave_text: str, arrive_text: str
    ) -> None:
        """Move a character to any room (walking, teleport, respawn), telling both rooms; a
        room a reload removed meanwhile (a respawn room, say) becomes the start room."""
        if room_id not in self._world.rooms:
            room_id = self._world.start_room_id
        old = self._presence.move(player, room_id)
        self._messenger.to_room(
            old, frames.event("left", leave_text, name=player.name), exclude=[player.id]
        )
        self._messenger.to_room(
            room_id, frames.event("arrived", arrive_text, name=player.name), exclude=[player.id]
        )
        await self._bus.publish(PlayerLeftRoom(player.id, old, room_id))
        await self._visit(player, room_id)
        await self._bus.publish(PlayerEnteredRoom(player.id, room_id, old))

    async def _visit(self, player: Player, room_id: str) -> None:
        """A first visit earns experience; some rooms cost lucidity. Told after the commit."""
        visited = self._presence.explored(player.id)
        room = self._world.rooms.get(room_id)  # a reload may have removed it meanwhile
        cost = room.lucidity_cost if room is not None else 0
        first = room_id not in visited
        if not first and cost <= 0:
            return
        notes: list[Frame] = []
        gain, lucidity = None, player.lucidity
        if cost <= 0 and self._first_visits is not None:
            # The common case, a plain first visit: written with the others made meanwhile,
            # one transaction per group (see persistence/visits.py).
            gain = await self._first_visits.record(player, room_id, EXPLORATION_XP)
        elif not first and self._first_visits is not None:
            # A gnawing room visited before: one statement, no unit of work.
            lucidity = await self._first_visits.gnaw(player.id, cost)
            notes.append(frames.message("system", GNAWS))
        else:
            # Also ``serve --cluster``'s every walk (no coalesced writer there): a unit of work
            # fenced by the zone the character is served in, which this process held, even
            # when it just walked into a zone held elsewhere (a hand-over follows).
            served = self._presence.served_room(player.id) or room_id
            async with self._uow() as uow:
                uow.players.standing_in(served)
                if first and await uow.exploration.record_visit(player.id, room_id):
                    gain = await uow.experience.gain_experience(player, EXPLORATION_XP, "explore")
                if cost > 0:
                    lucidity = await uow.experience.update_player_stat_field(
                        player.id, "lucidity", -cost, "room"
                    )
                    notes.append(frames.message("system", GNAWS))
        if gain is not None and gain.leveled_up:
            notes.insert(0, frames.event("level_up", f"You have reached level {gain.level}!"))
        if gain is not None:
            gain.apply_to(player)
        player.lucidity = lucidity
        visited.add(room_id)
        for note in [*notes, frames.vitals(player)]:
            self._messenger.to_player(player.id, note)
