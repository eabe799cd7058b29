"""Ignoring: a character hears nothing another says (say, emote, whisper, channels).

Each online character's list is loaded as it enters play and kept in memory, with the reverse
index (who ignores a speaker) that every delivery reads; changes are written first, then kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from kadath.domain.errors import NotAllowed, PlayerNotFound
from kadath.domain.events import PlayerLoggedIn, PlayerLoggedOut
from kadath.domain.player import Player
from kadath.services.events import EventBus
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork

MAX_IGNORED = 100


class IgnoreService:
    def __init__(
        self,
        presence: Presence,
        uow: Callable[[], UnitOfWork],
        reading: Callable[[], UnitOfWork],
    ) -> None:
        self._presence, self._uow, self._reading = presence, uow, reading
        self._ignoring: dict[uuid.UUID, dict[uuid.UUID, str]] = {}  # ignorer -> id -> name
        self._ignored_by: dict[uuid.UUID, set[uuid.UUID]] = {}  # speaker -> ignorers online

    def subscribe(self, bus: EventBus) -> None:
        """Load a character's list as it enters play; drop it as it leaves."""
        bus.subscribe(PlayerLoggedIn, lambda e: self.load(e.player_id))
        bus.subscribe(PlayerLoggedOut, lambda e: self.forget(e.player_id))

    async def load(self, player_id: uuid.UUID) -> None:
        async with self._reading() as uow:
            ignored = await uow.ignores.ignored(player_id)
        if player_id in self._presence:  # it may have left while the read ran
            self.forget(player_id)
            self._ignoring[player_id] = ignored
            for speaker in ignored:
                self._ignored_by.setdefault(speaker, set()).add(player_id)

    def forget(self, player_id: uuid.UUID) -> None:
        for speaker in self._ignoring.pop(player_id, {}):
            self._unindex(speaker, player_id)

    def ignores(self, listener_id: uuid.UUID, speaker_id: uuid.UUID) -> bool:
        return speaker_id in self._ignoring.get(listener_id, ())

    def ignorers_of(self, speaker_id: uuid.UUID) -> set[uuid.UUID]:
        """The online characters who ignore ``speaker_id``."""
        return self._ignored_by.get(speaker_id, set())

    async def listing(self, player: Player) -> list[str]:
        """The names ``player`` ignores, sorted."""
        ignored = await self._loaded(player)
        return sorted(ignored.values(), key=str.casefold)

    async def ignore(self, player: Player, name: str) -> str:
        """Raises PlayerNotFound, NotAllowed."""
        ignored = await self._loaded(player)
        if len(ignored) >= MAX_IGNORED:
            raise NotAllowed(f"You already ignore {MAX_IGNORED} characters; unignore some first.")
        async with self._uow() as uow:
            target = self._presence.find(name) or await uow.players.get_player_by_name(name)
            if target.id == player.id:
                raise NotAllowed("You cannot ignore yourself.")
            await uow.ignores.ignore(player.id, target.id)
        if player.id in self._ignoring:
            self._ignoring[player.id][target.id] = target.name
            self._ignored_by.setdefault(target.id, set()).add(player.id)
        return f"You ignore {target.name}: you will hear nothing they say."

    async def unignore(self, player: Player, name: str) -> str:
        """Raises PlayerNotFound."""
        ignored = await self._loaded(player)
        key = name.casefold()
        target = next((i for i, n in ignored.items() if n.casefold() == key), None)
        if target is None:
            raise PlayerNotFound(f"You are not ignoring anyone called {name[:30]}.")
        async with self._uow() as uow:
            await uow.ignores.unignore(player.id, target)
        if player.id in self._ignoring:
            self._ignoring[player.id].pop(target, None)
            self._unindex(target, player.id)
        return f"You hear {ignored.get(target, name)} again."

    async def _loaded(self, player: Player) -> dict[uuid.UUID, str]:
        """``player``'s list, loading it now if entering play could not (an outage)."""
        if player.id not in self._ignoring:
            await self.load(player.id)
        return dict(self._ignoring.get(player.id, {}))

    def _unindex(self, speaker: uuid.UUID, listener: uuid.UUID) -> None:
        ignorers = self._ignored_by.get(speaker)
        if ignorers is not None:
            ignorers.discard(listener)
            if not ignorers:
                del self._ignored_by[speaker]
