"""The database half of a player's death: a corpse with all they carried, health restored,
the respawn room stored. Runs inside the caller's unit of work; memory is the caller's to
update once it commits. Also repairs rows an older version or a crash left at health 0."""

from __future__ import annotations

from dataclasses import dataclass

from kadath.domain.corpse import CorpseRules, corpse_keywords, corpse_name, decays_at
from kadath.domain.item import Container, ContainerKind, InContainer, InInventory
from kadath.domain.player import Player
from kadath.services.clock import Clock
from kadath.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Burial:
    corpse: Container
    health: int
    respawn_room_id: str

    def apply_to(self, player: Player) -> None:
        """Health restored in memory (the move is the caller's: it tells both rooms)."""
        player.health = self.health


class Undertaker:
    def __init__(self, rules: CorpseRules, clock: Clock) -> None:
        self._rules, self._clock = rules, clock

    async def bury(self, uow: UnitOfWork, player: Player) -> Burial:
        """Corpse, items, health and respawn room for ``player``, in ``uow``."""
        now = self._clock.now()
        carried = await uow.items.items_at(InInventory(player.id))
        corpse = await uow.containers.create_container(
            kind=ContainerKind.CORPSE,
            name=corpse_name(player.name),
            capacity=max(len(carried), 1),
            room_id=player.room_id,
            owner_player_id=player.id,
            decays_at=decays_at(now, self._rules),
            metadata={
                "keywords": list(corpse_keywords(player.name)),
                "owner_name": player.name,
                "died_at": now.isoformat(),
            },
        )
        # Worn bags travel whole: their contents hang off the bag's container, not the player.
        await uow.items.move_all(InInventory(player.id), InContainer(corpse.id))
        health = await uow.health.set_health(player.id, player.max_health)
        await uow.players.move_player(player.id, player.respawn_room_id)
        return Burial(corpse, health, player.respawn_room_id)

    async def bury_the_fallen(self, uow: UnitOfWork) -> list[Burial]:
        """The ordinary death for every stored character left at health 0 (start-up repair)."""
        return [await self.bury(uow, player) for player in await uow.players.fallen()]
