"""The pieces a combat round is made of: who is fighting, with what, and the lines they read.

Helpers for `CombatService`, all in memory (no I/O), so each rule is easy to test on its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kadath.domain.combat import AttackOutcome, Combatant, CombatState, transition
from kadath.domain.item import ItemInstance
from kadath.domain.npc import NpcInstance
from kadath.domain.player import Player
from kadath.domain.rng import Rng
from kadath.domain.world import ItemPrototype
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence

WIELD_SLOT = "wield"
DEFAULT_STAT = 10
_ARTICLES = ("a ", "an ")


@dataclass(frozen=True, slots=True)
class Gear:
    """What a player fights with: the wielded weapon's damage (None: fists) and worn armour."""

    weapon_damage: tuple[int, int] | None = None
    armor: int = 0


UNARMED = Gear()


@dataclass(slots=True)
class Fighter:
    """One side of a fight as the combat service tracks it; absent from the table means IDLE."""

    id: uuid.UUID
    name: str
    is_npc: bool
    room_id: str
    initiative: int
    target_id: uuid.UUID | None = None
    state: CombatState = CombatState.IDLE
    gear: Gear | None = None
    hurt_by: dict[uuid.UUID, int] = field(default_factory=dict)

    def become(self, state: CombatState) -> None:
        """Move to `state`; raises `InvalidTransition` when the combat rules forbid it."""
        self.state = transition(self.state, state)

    @property
    def engaged(self) -> bool:
        return self.state is CombatState.ENGAGED


def gear_from(items: Iterable[ItemInstance], prototypes: Mapping[str, ItemPrototype]) -> Gear:
    """The first wielded weapon's damage and the sum of every worn item's armour."""
    weapon: tuple[int, int] | None = None
    armor = 0
    for item in items:
        proto = prototypes.get(item.prototype_id)
        if proto is None or item.worn_slot is None:
            continue
        armor += proto.armor
        if item.worn_slot == WIELD_SLOT and weapon is None and proto.damage is not None:
            weapon = proto.damage
    return Gear(weapon, armor)


def player_combatant(player: Player, gear: Gear) -> Combatant:
    return Combatant(
        id=str(player.id),
        name=player.name,
        level=player.level,
        strength=player.stats.strength,
        dexterity=player.stats.dexterity,
        armor=gear.armor,
        health=player.health,
        max_health=player.max_health,
        weapon_damage=gear.weapon_damage,
    )


def npc_combatant(npc: NpcInstance) -> Combatant:
    d = npc.definition
    return Combatant(
        id=str(npc.id),
        name=d.name,
        level=d.level,
        strength=d.stats.get("strength", DEFAULT_STAT),
        dexterity=d.stats.get("dexterity", DEFAULT_STAT),
        armor=d.armor,
        health=npc.health,
        max_health=max(1, d.health),
        weapon_damage=d.damage,
        is_npc=True,
    )


def npc_dexterity(npc: NpcInstance) -> int:
    return npc.definition.stats.get("dexterity", DEFAULT_STAT)


def definite(name: str) -> str:
    """ "a ghoul" → "the ghoul"; proper names stay as they are."""
    lowered = name.lower()
    for article in _ARTICLES:
        if lowered.startswith(article):
            return "the " + name[len(article) :]
    return name


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True, slots=True)
class StrikeLines:
    attacker: str
    defender: str
    room: str


def strike_lines(attacker: Fighter, defender: Fighter, outcome: AttackOutcome) -> StrikeLines:
    """What the striker, the struck and the onlookers read about one swing."""
    a = definite(attacker.name) if attacker.is_npc else attacker.name
    d = definite(defender.name) if defender.is_npc else defender.name
    if not outcome.hit:
        return StrikeLines(
            f"You miss {d}.", sentence(f"{a} misses you."), sentence(f"{a} misses {d}.")
        )
    n = outcome.damage
    verb = "strikes" if attacker.is_npc else "hits"
    return StrikeLines(
        f"You hit {d} for {n}.",
        sentence(f"{a} {verb} you for {n}."),
        sentence(f"{a} {verb} {d} for {n}."),
    )


def choose_npc_target(
    npc: Fighter, current: Fighter | None, hostiles: Sequence[Fighter], rng: Rng
) -> Fighter | None:
    """Whoever hurt the NPC most; else the one it already fights; else a random attacker."""
    candidates = list(hostiles)
    if current is not None and all(c is not current for c in candidates):
        candidates.append(current)
    hurt = [c for c in candidates if npc.hurt_by.get(c.id, 0) > 0]
    if hurt:
        return max(hurt, key=lambda c: npc.hurt_by[c.id])
    if current is not None:
        return current
    return rng.choice(candidates) if candidates else None


def choose_player_target(current: Fighter | None, hostiles: Sequence[Fighter]) -> Fighter | None:
    """The one the player chose while it lasts, else the first thing fighting them."""
    if current is not None:
        return current
    return hostiles[0] if hostiles else None


@dataclass(frozen=True, slots=True)
class TableState:
    fighters: dict[uuid.UUID, Fighter]
    sides: list[tuple[Fighter, CombatState, uuid.UUID | None, dict[uuid.UUID, int]]]


class FightTable:
    """The fighters by id (absent means IDLE), and whom each of them can still reach."""

    def __init__(self, presence: Presence, npcs: NpcRoster, rng: Rng) -> None:
        self._presence, self._npcs, self._rng = presence, npcs, rng
        self._fighters: dict[uuid.UUID, Fighter] = {}

    def get(self, fighter_id: uuid.UUID | None) -> Fighter | None:
        return self._fighters.get(fighter_id) if fighter_id is not None else None

    def save(self) -> TableState:
        """Who fights whom now, to put back with ``restore`` if a round is not stored."""
        return TableState(
            dict(self._fighters),
            [(f, f.state, f.target_id, dict(f.hurt_by)) for f in self._fighters.values()],
        )

    def restore(self, saved: TableState) -> None:
        self._fighters = dict(saved.fighters)
        for fighter, state, target_id, hurt_by in saved.sides:
            fighter.state, fighter.target_id, fighter.hurt_by = state, target_id, hurt_by

    def add(self, fighter: Fighter) -> Fighter:
        self._fighters[fighter.id] = fighter
        return fighter

    def forget(self, fighter: Fighter) -> None:
        if self._fighters.get(fighter.id) is fighter:
            del self._fighters[fighter.id]

    def holds(self, fighter: Fighter) -> bool:
        return self._fighters.get(fighter.id) is fighter

    def engaged(self) -> list[Fighter]:
        return [f for f in self._fighters.values() if f.engaged]

    def rooms(self) -> list[str]:
        return sorted({f.room_id for f in self.engaged()})

    def turn_order(self, room_id: str) -> list[Fighter]:
        """The engaged fighters of one room, highest initiative first."""
        here = [f for f in self.engaged() if f.room_id == room_id]
        return sorted(here, key=lambda f: -f.initiative)

    def being(self, fighter: Fighter) -> Player | NpcInstance | None:
        """The living character behind a fighter, if it is still where the fight is."""
        if fighter.is_npc:
            npc = self._npcs.get(fighter.id)
            ok = npc is not None and npc.alive and npc.room_id == fighter.room_id
            return npc if ok else None
        player = self._presence.get(fighter.id)
        ok = player is not None and not player.is_dead and player.room_id == fighter.room_id
        return player if ok else None

    def can_fight(self, fighter: Fighter, other: Fighter) -> bool:
        return (
            other is not fighter
            and other.engaged
            and other.room_id == fighter.room_id
            and self.being(other) is not None
        )

    def hostiles(self, fighter: Fighter) -> list[Fighter]:
        """Everyone who can reach this fighter and is aiming at it."""
        return [
            h
            for h in self._fighters.values()
            if h.target_id == fighter.id and self.can_fight(fighter, h)
        ]

    def has_opponent(self, fighter: Fighter) -> bool:
        current = self.get(fighter.target_id)
        if current is not None and self.can_fight(fighter, current):
            return True
        return bool(self.hostiles(fighter))

    def pick_target(self, fighter: Fighter) -> Fighter | None:
        """Whom the fighter strikes this turn (remembered as its target), or None."""
        current = self.get(fighter.target_id)
        if current is not None and not self.can_fight(fighter, current):
            current = None
        hostiles = self.hostiles(fighter)
        if fighter.is_npc:
            chosen = choose_npc_target(fighter, current, hostiles, self._rng)
        else:
            chosen = choose_player_target(current, hostiles)
        fighter.target_id = chosen.id if chosen is not None else None
        npc = self._npcs.get(fighter.id) if fighter.is_npc else None
        if npc is not None:
            npc.target_id = fighter.target_id
        return chosen
