"""Combat rules: initiative, hit chance, damage, fleeing, and the combat state machine.

Errors: `InvalidTransition` is a bug in the caller, never a player mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kadath.domain.rng import Rng
from kadath.domain.stats import ability_modifier

UNARMED_DAMAGE = (1, 3)
MIN_HIT_CHANCE = 0.05
MAX_HIT_CHANCE = 0.95
BASE_HIT_CHANCE = 0.60
HIT_PER_DEX_MODIFIER = 0.05
HIT_PER_LEVEL = 0.01
HIT_PER_ARMOR = 0.02
MIN_FLEE_CHANCE = 0.10
MAX_FLEE_CHANCE = 0.90
BASE_FLEE_CHANCE = 0.50
FLEE_PER_DEX_MODIFIER = 0.05


@dataclass(frozen=True, slots=True)
class Combatant:
    """What the rules need to know about one side of a fight, player or NPC."""

    id: str
    name: str
    level: int
    strength: int
    dexterity: int
    armor: int
    health: int
    max_health: int
    weapon_damage: tuple[int, int] | None = None
    is_npc: bool = False


@dataclass(frozen=True, slots=True)
class AttackOutcome:
    attacker_id: str
    defender_id: str
    hit: bool
    damage: int


def initiative(dexterity: int, rng: Rng) -> int:
    """A d20 plus the dexterity modifier; higher acts first."""
    return rng.randint(1, 20) + ability_modifier(dexterity)


def hit_chance(
    attacker_dex: int, attacker_level: int, defender_dex: int, defender_armor: int
) -> float:
    """Chance to hit, from 60%: dexterity edge and level help, armor hinders; within 5-95%."""
    chance = (
        BASE_HIT_CHANCE
        + HIT_PER_DEX_MODIFIER * (ability_modifier(attacker_dex) - ability_modifier(defender_dex))
        + HIT_PER_LEVEL * attacker_level
        - HIT_PER_ARMOR * defender_armor
    )
    return _clamp(chance, MIN_HIT_CHANCE, MAX_HIT_CHANCE)


def roll_hit(chance: float, rng: Rng) -> bool:
    """One `rng.random()` draw against the chance."""
    return rng.random() < chance


def roll_damage(weapon_damage: tuple[int, int] | None, strength: int, rng: Rng) -> int:
    """The weapon's range (unarmed 1-3) plus the strength modifier, at least 1."""
    low, high = weapon_damage if weapon_damage is not None else UNARMED_DAMAGE
    return max(1, rng.randint(low, high) + ability_modifier(strength))


def resolve_attack(attacker: Combatant, defender: Combatant, rng: Rng) -> AttackOutcome:
    """One swing: a `random()` for the hit, then a `randint` for damage only if it lands."""
    chance = hit_chance(attacker.dexterity, attacker.level, defender.dexterity, defender.armor)
    hit = roll_hit(chance, rng)
    damage = roll_damage(attacker.weapon_damage, attacker.strength, rng) if hit else 0
    return AttackOutcome(attacker.id, defender.id, hit, damage)


def should_flee(health: int, max_health: int, flee_below: float) -> bool:
    """True when a living combatant's health fraction has dropped below `flee_below`."""
    if max_health <= 0:
        raise ValueError(f"max_health must be positive, got {max_health}")
    return 0 < health < flee_below * max_health


def flee_chance(dexterity: int) -> float:
    """Chance to escape, from 50%, 5% per dexterity modifier point, within 10-90%."""
    chance = BASE_FLEE_CHANCE + FLEE_PER_DEX_MODIFIER * ability_modifier(dexterity)
    return _clamp(chance, MIN_FLEE_CHANCE, MAX_FLEE_CHANCE)


def flee_succeeds(dexterity: int, rng: Rng) -> bool:
    """One `rng.random()` draw against `flee_chance`."""
    return rng.random() < flee_chance(dexterity)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class InvalidTransition(Exception):
    """A combat state change the rules forbid."""

    def __init__(self, frm: CombatState, to: CombatState) -> None:
        super().__init__(f"cannot go from combat state {frm} to {to}")
        self.frm = frm
        self.to = to


class CombatState(StrEnum):
    IDLE = "idle"
    ENGAGED = "engaged"
    FLED = "fled"
    DEAD = "dead"

    @staticmethod
    def can_transition(frm: CombatState, to: CombatState) -> bool:
        """True when the rules allow moving from `frm` to `to`."""
        return to in _TRANSITIONS[frm]


# Death can come from any living state (an ambush kills before anyone is "engaged");
# only respawning leaves DEAD.
_TRANSITIONS: dict[CombatState, frozenset[CombatState]] = {
    CombatState.IDLE: frozenset({CombatState.ENGAGED, CombatState.DEAD}),
    CombatState.ENGAGED: frozenset({CombatState.IDLE, CombatState.FLED, CombatState.DEAD}),
    CombatState.FLED: frozenset({CombatState.IDLE, CombatState.ENGAGED, CombatState.DEAD}),
    CombatState.DEAD: frozenset({CombatState.IDLE}),
}

can_transition = CombatState.can_transition


def transition(frm: CombatState, to: CombatState) -> CombatState:
    """The new state; raises `InvalidTransition` when the move is forbidden."""
    if not can_transition(frm, to):
        raise InvalidTransition(frm, to)
    return to
