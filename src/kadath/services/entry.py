"""Entering and leaving the world: loading a character into play, saving it on the way out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog

from kadath.domain.errors import InfrastructureError, ZoneMoved
from kadath.domain.events import PlayerLoggedIn, PlayerLoggedOut
from kadath.domain.player import Player
from kadath.domain.world import World
from kadath.services import messenger as frames
from kadath.services.burial import Undertaker
from kadath.services.events import EventBus
from kadath.services.messenger import Messenger
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


class WorldEntry:
    def __init__(
        self,
        world: World,
        presence: Presence,
        messenger: Messenger,
        bus: EventBus,
        uow: Callable[[], UnitOfWork],
        undertaker: Undertaker | None = None,
    ) -> None:
        self._world, self._presence, self._messenger = world, presence, messenger
        self._bus, self._uow = bus, uow
        self._undertaker = undertaker
        # Saves of departing characters still in flight: a quick return waits for its own.
        self._saving: dict[uuid.UUID, asyncio.Task[None]] = {}
        # Whether this process runs a room's zone (``HeldZones.runs_room``; one process: all).
        self.runs_room: Callable[[str], bool] = lambda _room: True
        # ``serve --cluster`` only (None in one process, which claims nothing): the claim of
        # each character in play here (``claim_play``): its saves count while no later load
        # of it, on any process, has claimed it; ``claimed`` is told of each new claim.
        self.claims: dict[uuid.UUID, int] | None = None
        self.claimed: Callable[[uuid.UUID, int], Awaitable[None]] | None = None

    async def enter(self, player_id: uuid.UUID) -> Player:
        """Load a character into play, or return the one already in play. Raises PlayerNotFound."""
        online = self._presence.get(player_id)
        if online is not None:
            return online
        saving = self._saving.get(player_id)
        if saving is not None:
            await asyncio.wait({saving})  # load what the last session saved, not what it had
        claim: int | None = None
        async with self._presence.gate(player_id):  # a delete waits, then sees it in play
            online = self._presence.get(player_id)  # another connection may have won the race
            if online is not None:
                return online
            async with self._uow() as uow:
                player = await uow.players.get_player_by_id(player_id)
                if self.claims is not None:
                    claim = await uow.players.claim_play(player_id)
                if player.is_dead and self._undertaker is not None:
                    # A death a crash or an older version never finished: give it now.
                    burial = await self._undertaker.bury(uow, player)
                    burial.apply_to(player)
                    player.room_id = burial.respawn_room_id
                explored = await uow.exploration.visited_rooms(player_id)
                await uow.players.update_player_last_active(player_id)
            if player.room_id not in self._world.rooms:
                player.room_id = self._world.start_room_id
            self._presence.enter(player, explored)
            if self.claims is not None and claim is not None:
                self.claims[player_id] = claim
        self._messenger.to_room(
            player.room_id,
            frames.event("arrived", f"{player.name} steps out of the fog.", name=player.name),
            exclude=[player.id],
        )
        await self._bus.publish(PlayerLoggedIn(player.id, player.room_id))
        if self.claimed is not None and claim is not None:
            await self.claimed(player_id, claim)  # a stale copy elsewhere leaves play
        return player

    async def leave(self, player_id: uuid.UUID) -> None:
        """Take a character out of play and save it; the save survives cancellation.
        ``serve --cluster``: the save is fenced by the zone the character was served in, and
        skipped (logged) when that zone's newer holder is recorded."""
        served = self._presence.served_room(player_id)
        player = self._presence.leave(player_id)
        if player is None:
            return
        claim = self.claims.pop(player_id, None) if self.claims is not None else None
        self._messenger.to_room(
            player.room_id,
            frames.event("left", f"{player.name} fades into the fog.", name=player.name),
            exclude=[player.id],
        )
        task = asyncio.ensure_future(self._save([(player, served, claim)]))
        self._saving[player_id] = task  # registered first: a quick return waits for it
        try:
            # Told as it leaves, not after the save: by then it may be back and fighting anew.
            await self._bus.publish(PlayerLoggedOut(player.id, player.room_id))
            await asyncio.shield(task)  # a cancelled caller does not cancel the save
        finally:
            if self._saving.get(player_id) is task and task.done():
                del self._saving[player_id]

    async def bury_the_fallen(self) -> int:
        """Give every stored character left at health 0 its death (start-up); returns how many."""
        if self._undertaker is None:
            return 0
        async with self._uow() as uow:
            burials = await self._undertaker.bury_the_fallen(uow)
        if burials:
            log.warning("fallen_buried", players=len(burials))
        return len(burials)

    async def save_positions(self) -> int:
        """Store where every moved character in a zone run here stands (one statement);
        returns how many. The others (walked into a zone held elsewhere, or standing in one
        given up) wait for the save on leaving. A failed save leaves them all to the next."""
        here: list[Player] = []
        for player in self._presence.take_dirty():
            if self.runs_room(player.room_id):
                here.append(player)
            else:
                self._presence.mark_dirty(player.id)
        if here:
            try:
                async with self._uow() as uow:
                    await uow.players.save_positions([(p.id, p.room_id) for p in here], self.claims)
            except BaseException:
                for player in here:
                    self._presence.mark_dirty(player.id)
                raise
        return len(here)

    async def leave_all(self, attempts: int = 5) -> int:
        """Save everyone in one transaction, then take them out of play (shutdown). A busy
        database is retried with backoff before giving up loudly; characters whose save
        failed stay in play, so a later call saves them."""
        await asyncio.gather(*self._saving.values(), return_exceptions=True)
        self._saving.clear()
        players = self._presence.all()
        claims = self.claims or {}
        departing = [(p, self._presence.served_room(p.id), claims.get(p.id)) for p in players]
        for attempt in range(1, attempts + 1):
            try:
                await self._save(departing)
                break
            except InfrastructureError:
                if attempt == attempts:
                    raise
                log.warning("shutdown_save_retry", attempt=attempt, players=len(players))
                await asyncio.sleep(0.2 * 2**attempt)
        for player in players:
            self._presence.leave(player.id)
            if self.claims is not None:
                self.claims.pop(player.id, None)
        return len(players)

    async def _save(self, departing: list[tuple[Player, str | None, int | None]]) -> None:
        """Save departing characters: one transaction per zone they were served in (one in
        all in a single process, which tracks none). A zone the fence refuses (a newer holder
        is recorded, or it is not held here any more) is skipped and logged: what its new
        holder saved stands. So is a character loaded into play since on another process
        (``claims``: its newer claim stands). Raises InfrastructureError (nothing of that
        zone's group saved)."""
        rooms = self._world.rooms
        groups: dict[str | None, list[tuple[Player, str | None, int | None]]] = {}
        for player, served, claim in departing:
            zone = rooms[served].zone_id if served is not None and served in rooms else None
            groups.setdefault(zone, []).append((player, served, claim))
        for zone, group in sorted(groups.items(), key=lambda g: g[0] or ""):
            players = [p for p, _, _ in group]
            served_in = {room for _, room, _ in group if room is not None}
            claims = None
            if self.claims is not None:
                claims = {p.id: c for p, _, c in group if c is not None}
            try:
                async with self._uow() as uow:
                    await uow.players.save_lazy_columns(players, served_in, claims)
            except ZoneMoved:
                log.warning("leave_save_fenced", zone=zone, player_ids=[str(p.id) for p in players])
