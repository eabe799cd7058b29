"""Fights: who is fighting whom, and the rounds the game loop runs between them.

Fights live in memory only. Every consequence of a blow (damage, lucidity, a death with its
corpse, experience) is committed before memory changes, and a round's blows, deaths and kills
are one unit of work (one per zone in ``serve --cluster``), so a lethal blow commits together
with the death it causes. A restart in mid-fight loses no item or experience, duplicates
nothing and leaves nobody dead on their feet: the fight simply ends, and everyone wakes where
the last committed change left them.

Walking away while engaged is refused (flee instead); any other way out of the room (a
teleport, a respawn, logging out) ends that character's part in the fight.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

import structlog

from kadath.domain.combat import (
    Combatant,
    CombatState,
    flee_succeeds,
    initiative,
    resolve_attack,
    should_flee,
)
from kadath.domain.errors import DomainError, KadathError, NotAllowed, NotFound
from kadath.domain.events import CombatEnded, PlayerLeftRoom, PlayerLoggedOut
from kadath.domain.item import InInventory
from kadath.domain.npc import NpcInstance, NpcState
from kadath.domain.player import HEALTH_FLOOR, Player
from kadath.domain.rng import Rng
from kadath.domain.world import Direction, NpcKind
from kadath.services import messenger as frames
from kadath.services.combat_round import (
    Fighter,
    FightTable,
    StrikeLines,
    definite,
    gear_from,
    npc_combatant,
    npc_dexterity,
    player_combatant,
    sentence,
    strike_lines,
)
from kadath.services.death import DeathService
from kadath.services.movement import MovementService
from kadath.services.outbound import Outbound
from kadath.services.realm import Realm
from kadath.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)
ROUND_SECONDS = 2.0
DAMAGE_REASON = "combat"
_PEACEFUL = frozenset({NpcKind.SHOPKEEPER, NpcKind.QUESTGIVER})


NpcFlee = Callable[[NpcInstance], bool | Awaitable[bool]]


class CombatService:
    def __init__(
        self,
        realm: Realm,
        out: Outbound,
        uow: UnitOfWorkFactory,
        rng: Rng,
        movement: MovementService,
        death: DeathService,
        npc_flee: NpcFlee | None = None,
    ) -> None:
        self._realm, self._out, self._uow, self._rng = realm, out, uow, rng
        self._movement, self._death, self._npc_flee = movement, death, npc_flee
        self._table = FightTable(realm.presence, realm.npcs, rng)
        # Whether this process runs a room's zone (``HeldZones.runs_room``; one process: all).
        self.runs_room: Callable[[str], bool] = lambda _room: True
        # ``serve --cluster``: a round is stored one unit of work per zone, so a zone the
        # fence refuses refuses only its own blows; one process: one for the whole round.
        self.unit_per_zone = False

    def install(self) -> None:
        """Hook into movement and the event bus (once, at start-up)."""
        self._movement.guards.append(self.guard_movement)
        self._out.bus.subscribe(PlayerLeftRoom, self._on_left_room)
        self._out.bus.subscribe(PlayerLoggedOut, self._on_logged_out)

    # -- what others ask ---------------------------------------------------------------------
    def in_combat(self, entity_id: uuid.UUID) -> bool:
        fighter = self._table.get(entity_id)
        return fighter is not None and fighter.engaged

    def players_fighting(self) -> frozenset[uuid.UUID]:
        return frozenset(f.id for f in self._table.engaged() if not f.is_npc)

    def gear_changed(self, player_id: uuid.UUID) -> None:
        """Forget a fighter's cached weapon and armour (call after wield, wear, remove)."""
        fighter = self._table.get(player_id)
        if fighter is not None:
            fighter.gear = None

    def guard_movement(self, player: Player) -> None:
        """A movement guard. Raises NotAllowed while the player is engaged."""
        if self.in_combat(player.id):
            raise NotAllowed("You are fighting for your life! Try to flee.")

    # -- starting a fight -------------------------------------------------------------------
    async def attack(self, player: Player, word: str) -> str:
        """Start fighting whatever `word` names here. Raises NotFound, NotAllowed."""
        if player.is_dead:
            raise NotAllowed("You are in no state to fight.")
        room = self._realm.world.rooms[player.room_id]
        if room.safe:
            raise NotAllowed("This is a place of peace; you cannot fight here.")
        key = word.casefold()
        npc = next(
            (
                n
                for n in self._realm.npcs.in_room(room.id)
                if n.alive and any(k.casefold().startswith(key) for k in n.definition.keywords)
            ),
            None,
        )
        if npc is not None:
            return self._attack_npc(player, npc)
        other = next(
            (p for p in self._realm.presence.in_room(room.id) if p.name.casefold().startswith(key)),
            None,
        )
        if other is None:
            raise NotFound(f"You see no '{word}' here.")
        if other.id == player.id:
            raise NotAllowed("Fighting yourself would solve nothing.")
        if not room.pvp:
            raise NotAllowed("You cannot attack other players here.")
        return self._attack_player(player, other)

    def engage_npc(self, npc: NpcInstance, player: Player) -> None:
        """An NPC starts a fight with a player in its room (aggression); no-op when it cannot."""
        room = self._realm.world.rooms.get(npc.room_id)
        if room is None or room.safe or not npc.alive or player.is_dead:
            return
        if player.room_id != npc.room_id or player.id not in self._realm.presence:
            return
        self._enlist_npc(npc, player.id)
        self._enlist_player(player, npc.id)
        name = sentence(definite(npc.name))
        self._out.messenger.to_player(player.id, frames.message("combat", f"{name} attacks you!"))
        self._out.messenger.to_room(
            npc.room_id,
            frames.message("combat", f"{name} attacks {player.name}!"),
            exclude=[player.id],
        )
        self._vitals(player)

    def _attack_npc(self, player: Player, npc: NpcInstance) -> str:
        if npc.definition.kind in _PEACEFUL:
            raise NotAllowed(f"You cannot bring yourself to harm {definite(npc.name)}.")
        current = self._table.get(player.id)
        if current is not None and current.engaged and current.target_id == npc.id:
            raise NotAllowed(f"You are already fighting {definite(npc.name)}!")
        self._enlist_player(player, npc.id, retarget=True)
        self._enlist_npc(npc, player.id)
        self._out.messenger.to_room(
            player.room_id,
            frames.message("combat", f"{player.name} attacks {definite(npc.name)}!"),
            exclude=[player.id],
        )
        self._vitals(player)
        return f"You attack {definite(npc.name)}!"

    def _attack_player(self, player: Player, other: Player) -> str:
        if other.is_dead:
            raise NotAllowed(f"{other.name} is in no state to fight.")
        current = self._table.get(player.id)
        if current is not None and current.engaged and current.target_id == other.id:
            raise NotAllowed(f"You are already fighting {other.name}!")
        self._enlist_player(player, other.id, retarget=True)
        self._enlist_player(other, player.id)
        messenger = self._out.messenger
        messenger.to_player(other.id, frames.message("combat", f"{player.name} attacks you!"))
        messenger.to_room(
            player.room_id,
            frames.message("combat", f"{player.name} attacks {other.name}!"),
            exclude=[player.id, other.id],
        )
        self._vitals(player)
        self._vitals(other)
        return f"You attack {other.name}!"

    def _enlist_player(self, player: Player, target: uuid.UUID, *, retarget: bool = False) -> None:
        fighter = self._table.get(player.id)
        if fighter is None:
            roll = initiative(player.stats.dexterity, self._rng)
            fighter = self._table.add(Fighter(player.id, player.name, False, player.room_id, roll))
        self._engage(fighter, target, retarget)

    def _enlist_npc(self, npc: NpcInstance, target: uuid.UUID) -> None:
        fighter = self._table.get(npc.id)
        if fighter is None:
            roll = initiative(npc_dexterity(npc), self._rng)
            fighter = self._table.add(Fighter(npc.id, npc.name, True, npc.room_id, roll))
        self._engage(fighter, target, retarget=False)
        npc.state, npc.target_id = NpcState.FIGHTING, fighter.target_id

    @staticmethod
    def _engage(fighter: Fighter, target: uuid.UUID, retarget: bool) -> None:
        if not fighter.engaged:
            fighter.become(CombatState.ENGAGED)
        if retarget or fighter.target_id is None:
            fighter.target_id = target

    # -- fleeing ----------------------------------------------------------------------------
    async def flee(self, player: Player) -> Direction:
        """Try to run through a random exit; returns the way taken. Raises NotAllowed."""
        fighter = self._table.get(player.id)
        if fighter is None or not fighter.engaged:
            raise NotAllowed("You are not fighting anyone.")
        exits = list(self._realm.world.rooms[player.room_id].exits)
        if not exits:
            raise NotAllowed("There is nowhere to run!")
        if not flee_succeeds(player.stats.dexterity, self._rng):
            self._out.messenger.to_room(
                player.room_id,
                frames.message("combat", f"{player.name} tries to flee, but cannot get away!"),
                exclude=[player.id],
            )
            raise NotAllowed("You try to flee, but cannot get away!")
        direction = self._rng.choice(exits)
        room_id = player.room_id
        fighter.become(CombatState.FLED)
        try:
            await self._movement.go(player, direction)
        except DomainError:
            fighter.become(CombatState.ENGAGED)
            raise
        self._out.messenger.to_room(
            room_id, frames.message("combat", f"{player.name} flees {direction.value}!")
        )
        await self._retire(fighter, "fled")
        await self._settle(room_id)
        return direction

    # -- the round --------------------------------------------------------------------------
    async def run_round(self, _tick: float = 0.0) -> None:
        """One round everywhere: each engaged fighter, by initiative, strikes its target. The
        round is **one** unit of work (one per zone with ``unit_per_zone``): its blows, deaths
        and kills commit together; memory, messages and events follow the commit. A failure
        stores none of that unit and shows nothing of it: its fights stand as they were, and
        the next round tries again; the other zones' units are stored or refused on their own."""
        for fighter in self._table.engaged():
            if not self.runs_room(fighter.room_id):
                # Its zone is held elsewhere now (a round refused by the fence may have put
                # the fight back after the drop ended it): it ends here, storing nothing.
                await self._retire(fighter, "zone_lost")
        units: dict[str, list[str]] = {}
        for room_id in self._table.rooms():
            units.setdefault(self._unit_of(room_id), []).append(room_id)
        for unit in sorted(units):
            await self._run_rooms(units[unit])

    def _unit_of(self, room_id: str) -> str:
        if not self.unit_per_zone:
            return ""
        room = self._realm.world.rooms.get(room_id)
        return room.zone_id if room is not None else room_id

    async def _run_rooms(self, rooms: list[str]) -> None:
        """The round in ``rooms``, one unit of work; the table is put back if it fails."""
        saved = self._table.save()
        here = set(rooms)
        try:
            async with self._uow() as uow:
                engaged = self._table.engaged()
                players = (f.id for f in engaged if not f.is_npc and f.room_id in here)
                await uow.players.lock_in_order(players)  # id order: no deadlock
                round_ = _Round(uow)
                for room_id in rooms:
                    for fighter in self._table.turn_order(room_id):
                        if self._table.holds(fighter) and fighter.engaged:
                            await self._turn(round_, fighter)
                    self._settle_in(round_, room_id)
        except KadathError:
            self._table.restore(saved)
            log.exception("round_not_stored", rooms=rooms)
        except BaseException:
            self._table.restore(saved)
            raise

    async def _turn(self, round_: _Round, fighter: Fighter) -> None:
        target = self._table.pick_target(fighter)
        if target is None:
            self._retire_in(round_, fighter, "no_opponent")
            return
        attacker, defender = self._table.being(fighter), self._table.being(target)
        if attacker is None or defender is None:
            self._retire_in(round_, fighter if attacker is None else target, "gone")
            return
        outcome = resolve_attack(
            await self._combatant(round_, fighter, attacker),
            await self._combatant(round_, target, defender),
            self._rng,
        )
        lines = strike_lines(fighter, target, outcome)
        round_.later(lambda: self._announce(fighter, target, lines))
        if not outcome.hit:
            return
        if isinstance(defender, NpcInstance):
            await self._wound_npc(round_, fighter, target, defender, outcome.damage)
        else:
            await self._wound_player(round_, fighter, target, defender, outcome.damage, attacker)

    async def _wound_npc(
        self, round_: _Round, attacker: Fighter, target: Fighter, npc: NpcInstance, damage: int
    ) -> None:
        health = max(0, round_.health.get(npc.id, npc.health) - damage)
        round_.health[npc.id] = health
        target.hurt_by[attacker.id] = target.hurt_by.get(attacker.id, 0) + damage
        if health <= 0:
            target.become(CombatState.DEAD)
            self._table.forget(target)
            killer = None if attacker.is_npc else self._realm.presence.get(attacker.id)
            death = await self._death.record_npc_death(round_.uow, npc, killer)

            async def died() -> None:
                await self._death.after_npc_death(npc, killer, death)
                await self._publish_end(target, "death")

            round_.later_async(died)
            return

        def wounded() -> None:
            npc.health = health

        round_.later(wounded)
        rules = npc.definition
        if (
            rules.flee_below > 0
            and npc.id not in round_.fleeing
            and should_flee(health, max(1, rules.health), rules.flee_below)
        ):
            round_.fleeing.add(npc.id)
            round_.later_async(lambda: self._npc_flees(target, npc))

    async def _wound_player(
        self,
        round_: _Round,
        attacker: Fighter,
        target: Fighter,
        player: Player,
        damage: int,
        striker: Player | NpcInstance,
    ) -> None:
        drain = striker.definition.lucidity_damage if isinstance(striker, NpcInstance) else 0
        uow = round_.uow
        uow.players.standing_in(player.room_id)  # serve --cluster: fenced by its zone
        health = await uow.health.damage_player(player, damage, DAMAGE_REASON)
        round_.health[player.id] = health
        if drain > 0 and health > HEALTH_FLOOR:
            lucidity = await uow.experience.update_player_stat_field(
                player.id, "lucidity", -drain, DAMAGE_REASON
            )

            def unmoored() -> None:
                if lucidity != player.lucidity:
                    player.lucidity = lucidity
                    self._out.messenger.to_player(
                        player.id,
                        frames.message("combat", "Something in its touch unmoors your thoughts."),
                    )

            round_.later(unmoored)
        if health > HEALTH_FLOOR:

            def hurt() -> None:
                player.health = health
                self._vitals(player)

            round_.later(hurt)
            return
        # The lethal blow and the death commit together: nobody is dead on their feet.
        burial = await self._death.bury(uow, player)
        target.become(CombatState.DEAD)
        self._table.forget(target)
        killer = definite(attacker.name) if attacker.is_npc else attacker.name

        async def died() -> None:
            await self._publish_end(target, "death")
            await self._death.after_burial(player, burial, killer)

        round_.later_async(died)

    async def _npc_flees(self, fighter: Fighter, npc: NpcInstance) -> None:
        """After the round that hurt it badly: the NPC tries to run (the NPC side moves and
        announces it), and the fight ends for whoever is left with nobody to fight."""
        flee = self._npc_flee
        if flee is None or not self._table.holds(fighter) or not fighter.engaged:
            return
        if not npc.alive:
            return
        room_id = fighter.room_id
        moved = flee(npc)
        if inspect.isawaitable(moved):
            moved = await moved
        if not moved:
            return
        fighter.become(CombatState.FLED)
        await self._retire(fighter, "fled")
        await self._settle(room_id)

    # -- bookkeeping ------------------------------------------------------------------------
    async def _settle(self, room_id: str) -> None:
        """End the fight for anyone in the room left with nobody to fight."""
        for fighter in self._table.engaged():
            if fighter.room_id == room_id and not self._table.has_opponent(fighter):
                await self._retire(fighter, "no_opponent")

    def _settle_in(self, round_: _Round, room_id: str) -> None:
        """As _settle, inside a round: the fights end now, the telling after the commit."""
        for fighter in self._table.engaged():
            if fighter.room_id == room_id and not self._table.has_opponent(fighter):
                self._retire_in(round_, fighter, "no_opponent")

    async def _combatant(
        self, round_: _Round, fighter: Fighter, being: Player | NpcInstance
    ) -> Combatant:
        """The rules' view of a fighter, with the health this round has left it so far."""
        if isinstance(being, NpcInstance):
            combatant = npc_combatant(being)
        else:
            if fighter.gear is None:
                carried = await round_.uow.items.items_at(InInventory(being.id))
                fighter.gear = gear_from(carried, self._realm.world.items)
            combatant = player_combatant(being, fighter.gear)
        health = round_.health.get(being.id)
        return combatant if health is None else replace(combatant, health=health)

    def _announce(self, attacker: Fighter, defender: Fighter, lines: StrikeLines) -> None:
        messenger = self._out.messenger
        if not attacker.is_npc:
            messenger.to_player(attacker.id, frames.message("combat", lines.attacker))
        if not defender.is_npc:
            messenger.to_player(defender.id, frames.message("combat", lines.defender))
        messenger.to_room(
            attacker.room_id,
            frames.message("combat", lines.room),
            exclude=[attacker.id, defender.id],
        )

    async def _retire(self, fighter: Fighter, reason: str) -> None:
        """Take a fighter out of combat (IDLE, or FLED already) and tell whoever cares."""
        self._leave_table(fighter)
        await self._tell_retired(fighter, reason)

    def _retire_in(self, round_: _Round, fighter: Fighter, reason: str) -> None:
        """As _retire, inside a round: out of the fight now, told after the commit."""
        self._leave_table(fighter)
        round_.later_async(lambda: self._tell_retired(fighter, reason))

    def _leave_table(self, fighter: Fighter) -> None:
        if fighter.engaged:
            fighter.become(CombatState.IDLE)
        self._table.forget(fighter)

    async def _tell_retired(self, fighter: Fighter, reason: str) -> None:
        if fighter.is_npc:
            npc = self._realm.npcs.get(fighter.id)
            if npc is not None and npc.state is NpcState.FIGHTING:
                npc.state, npc.target_id = NpcState.IDLE, None
        else:
            player = self._realm.presence.get(fighter.id)
            if player is not None:
                if reason == "no_opponent":
                    self._out.messenger.to_player(
                        player.id, frames.message("combat", "The fight is over.")
                    )
                self._vitals(player)
        await self._publish_end(fighter, reason)

    async def _publish_end(self, fighter: Fighter, reason: str) -> None:
        ids = (fighter.id,) if fighter.target_id is None else (fighter.id, fighter.target_id)
        await self._out.bus.publish(CombatEnded(ids, fighter.room_id, reason))

    def _vitals(self, player: Player) -> None:
        self._out.messenger.to_player(
            player.id, frames.vitals(player, in_combat=self.in_combat(player.id))
        )

    async def zone_dropped(self, zone_id: str) -> None:
        """``HeldZones.dropped``: the fights in the zone end here, storing nothing (its new
        holder owns the zone's state now); the fighters still here are told."""
        rooms = self._realm.world.rooms
        for fighter in list(self._table.engaged()):
            room = rooms.get(fighter.room_id)
            if room is None or room.zone_id == zone_id:
                await self._retire(fighter, "zone_lost")

    # -- leaving the room -------------------------------------------------------------------
    async def _on_left_room(self, event: PlayerLeftRoom) -> None:
        fighter = self._table.get(event.player_id)
        if fighter is not None and fighter.engaged and event.to_room_id != fighter.room_id:
            await self._retire(fighter, "left")
            await self._settle(fighter.room_id)

    async def _on_logged_out(self, event: PlayerLoggedOut) -> None:
        if event.player_id in self._realm.presence:
            return  # already back: the fight is theirs again
        fighter = self._table.get(event.player_id)
        if fighter is not None and fighter.engaged:
            await self._retire(fighter, "logout")
            await self._settle(fighter.room_id)


class _Round:
    """One combat round's unit of work, the health its blows have left so far (players as
    stored in it, NPCs in memory), and what memory and the players see once it commits."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.health: dict[uuid.UUID, int] = {}
        self.fleeing: set[uuid.UUID] = set()

    def later(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` after the commit, in the order the round decided it."""

        async def run() -> None:
            effect()

        self.uow.after_commit(run)

    def later_async(self, effect: Callable[[], Awaitable[None]]) -> None:
        self.uow.after_commit(effect)
