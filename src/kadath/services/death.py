"""Dying: a player leaves a corpse with everything they carried and wakes in their respawn room;
an NPC leaves a corpse with its loot, pays its killer experience, and is announced as killed.

Each death is one unit of work (a lethal blow's own, see ``bury``), so a crash mid-way moves
nothing: the items are either all on the corpse with health restored, or still carried.
Memory, messages and events follow the commit."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from kadath.domain.corpse import CorpseRules, corpse_name, decays_at, roll_loot
from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.events import ExperienceGained, NpcKilled, PlayerDied
from kadath.domain.experience import xp_for_kill
from kadath.domain.item import Container, ContainerKind, InContainer
from kadath.domain.npc import NpcInstance, NpcState
from kadath.domain.player import Player
from kadath.domain.rng import Rng
from kadath.persistence.repositories.experience import ExperienceGain
from kadath.services import messenger as frames
from kadath.services.burial import Burial, Undertaker
from kadath.services.clock import Clock
from kadath.services.combat_round import definite, sentence
from kadath.services.movement import MovementService
from kadath.services.outbound import Outbound
from kadath.services.realm import Realm
from kadath.services.rooms import RoomDescriber
from kadath.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)
KILL_SOURCE = "kill"


@dataclass(frozen=True, slots=True)
class NpcDeath:
    """What an NPC's death stored: its corpse, and the killer's gain (None when not stored)."""

    corpse: Container | None
    gain: ExperienceGain | None
    amount: int


class DeathService:
    def __init__(
        self,
        realm: Realm,
        out: Outbound,
        uow: UnitOfWorkFactory,
        rng: Rng,
        clock: Clock,
        movement: MovementService,
        rooms: RoomDescriber,
        rules: CorpseRules,
    ) -> None:
        self._realm, self._out, self._uow, self._rng, self._clock = realm, out, uow, rng, clock
        self._movement, self._rooms, self._rules = movement, rooms, rules

    async def player_died(self, player: Player, killer: str | None = None) -> Container:
        """Leave a corpse holding all they carried, restore health, respawn; returns the corpse.
        Raises DatabaseUnavailable (and nothing has moved) when the transaction fails."""
        async with self._uow() as uow:
            burial = await self.bury(uow, player)
        await self.after_burial(player, burial, killer)
        return burial.corpse

    async def bury(self, uow: UnitOfWork, player: Player) -> Burial:
        """The database half of the death, in the caller's unit of work (a lethal blow's own):
        corpse, items, health and respawn room. Memory is untouched until after_burial."""
        return await Undertaker(self._rules, self._clock).bury(uow, player)

    async def after_burial(self, player: Player, burial: Burial, killer: str | None) -> None:
        """Once the burial committed: restore and move the player in memory, tell everyone."""
        room_id = player.room_id
        burial.apply_to(player)
        try:
            await self._movement.relocate(
                player,
                burial.respawn_room_id,
                leave_text=f"{player.name} dies.",
                arrive_text=f"{player.name} staggers out of the mist, pale and shaking.",
            )
        finally:
            # The death is committed: it is told even if a first visit's bookkeeping failed.
            self._tell_the_dead(player, burial.corpse, killer)
            await self._out.bus.publish(PlayerDied(player.id, room_id, burial.corpse.id, killer))
        view, text = await self._rooms.describe(player)
        self._out.messenger.to_player(player.id, frames.room(view, text))
        self._out.messenger.to_player(player.id, frames.vitals(player))

    async def npc_died(self, npc: NpcInstance, killer: Player | None) -> Container | None:
        """Take the NPC out of the world, leave its loot on a corpse, pay the killer, publish
        NpcKilled; returns the corpse, or None when the database refused the work."""
        try:
            async with self._uow() as uow:
                death = await self.record_npc_death(uow, npc, killer)
        except DatabaseUnavailable:
            # The NPC is dead in memory either way: still announce it, or it never respawns.
            log.warning("npc_death_not_stored", npc=npc.definition.id, reason="database")
            death = NpcDeath(None, None, 0)
        except Exception:
            # A bug: logged with its traceback, and the death is still announced (as above).
            log.exception("npc_death_not_stored", npc=npc.definition.id)
            death = NpcDeath(None, None, 0)
        await self.after_npc_death(npc, killer, death)
        return death.corpse

    async def record_npc_death(
        self, uow: UnitOfWork, npc: NpcInstance, killer: Player | None
    ) -> NpcDeath:
        """The database half of an NPC's death, in the caller's unit of work (a combat
        round's): its corpse with the loot, and the killer's experience. Memory is untouched."""
        amount = 0
        if killer is not None:
            amount = xp_for_kill(npc.definition.level, killer.level, npc.definition.xp_value)
        corpse = await self._npc_corpse(uow, npc)
        gain = None
        if killer is not None:
            gain = await uow.experience.gain_experience(killer, amount, KILL_SOURCE)
        return NpcDeath(corpse, gain, amount)

    async def after_npc_death(
        self, npc: NpcInstance, killer: Player | None, death: NpcDeath
    ) -> None:
        """Once the death is committed (or could not be): take the NPC out of the world, tell
        the room, pay the killer in memory, publish NpcKilled."""
        room_id = npc.room_id
        npc.state, npc.health, npc.target_id = NpcState.DEAD, 0, None
        self._realm.npcs.remove(npc.id)
        self._out.messenger.to_room(
            room_id, frames.message("combat", sentence(f"{_npc(npc)} dies."))
        )
        if killer is not None and death.gain is not None:
            death.gain.apply_to(killer)
            await self._reward(killer, npc, death.amount, death.gain)
        await self._out.bus.publish(
            NpcKilled(
                npc.id,
                npc.definition.id,
                room_id,
                killer.id if killer is not None else None,
                npc.spawn_key,
            )
        )

    async def _npc_corpse(self, uow: UnitOfWork, npc: NpcInstance) -> Container:
        now = self._clock.now()
        drops = [
            stack.prototype_id
            for stack in roll_loot(npc.definition.loot, self._rng)
            for _ in range(stack.count)
            if stack.prototype_id in self._realm.world.items
        ]
        corpse = await uow.containers.create_container(
            kind=ContainerKind.CORPSE,
            name=corpse_name(_npc(npc)),
            capacity=max(len(drops), 1),
            room_id=npc.room_id,
            decays_at=decays_at(now, self._rules),
            metadata={
                "keywords": ["corpse", *npc.definition.keywords],
                "npc_id": npc.definition.id,
                "died_at": now.isoformat(),
            },
        )
        await uow.items.create_items(drops, InContainer(corpse.id))
        return corpse

    async def _reward(
        self, killer: Player, npc: NpcInstance, amount: int, gain: ExperienceGain
    ) -> None:
        messenger = self._out.messenger
        messenger.to_player(
            killer.id,
            frames.message("combat", f"You have slain {_npc(npc)}. (+{amount} experience)"),
        )
        if gain.leveled_up:
            messenger.to_player(
                killer.id, frames.event("level_up", f"You have reached level {gain.level}!")
            )
            messenger.to_room(
                killer.room_id,
                frames.event(
                    "level_up", f"{killer.name} has reached level {gain.level}.", name=killer.name
                ),
                exclude=[killer.id],
            )
        messenger.to_player(killer.id, frames.vitals(killer, in_combat=False))
        await self._out.bus.publish(
            ExperienceGained(killer.id, amount, gain.level, gain.leveled_up)
        )

    def _tell_the_dead(self, player: Player, corpse: Container, killer: str | None) -> None:
        room = self._realm.world.rooms[player.room_id]
        by = f" at the hands of {killer}" if killer else ""
        self._out.messenger.to_player(
            player.id,
            frames.event(
                "died",
                f"You have died{by}. You awaken in {room.name}; "
                f"your belongings lie with {corpse.name}.",
                corpse_id=str(corpse.id),
                room_id=corpse.room_id,
            ),
        )


def _npc(npc: NpcInstance) -> str:
    return definite(npc.name)
