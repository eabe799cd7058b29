"""The six ability scores: rolling or buying them, checking profession requirements, health.

Errors: `InvalidStats` (an `errors.InvalidInput`) carries a sentence fit to show the player.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kadath.domain.errors import InvalidInput
from kadath.domain.rng import Rng

STAT_NAMES = ("strength", "dexterity", "constitution", "intelligence", "wisdom", "charisma")
MAX_LUCIDITY = 100

POINT_BUY_MIN = 8
POINT_BUY_MAX = 15
POINT_BUY_BUDGET = 27
POINT_BUY_COSTS = {8: 0, 9: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 7, 15: 9}

BASE_HEALTH = 20
HEALTH_PER_LEVEL = 5
MIN_MAX_HEALTH = 10


class InvalidStats(InvalidInput):
    """Stats that break a rule; the message is written for the player."""


class StatsMethod(StrEnum):
    THREE_D6 = "3d6"
    FOUR_D6_DROP_LOWEST = "4d6"
    POINT_BUY = "point_buy"


def ability_modifier(value: int) -> int:
    """The D&D-style modifier of a raw score: 10-11 give 0, each two points beyond give one."""
    return (value - 10) // 2


@dataclass(frozen=True, slots=True)
class Stats:
    strength: int
    dexterity: int
    constitution: int
    intelligence: int
    wisdom: int
    charisma: int

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in STAT_NAMES}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Stats:
        """Build from exactly the six stat names with int values; raises `InvalidStats`."""
        _check_keys(d)
        values: dict[str, int] = {}
        for name in STAT_NAMES:
            value = d[name]
            # bool is an int subclass, but True as a stat is always a data bug.
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidStats(f"{name} must be a whole number, not {value!r}.")
            values[name] = value
        return cls(**values)

    def modifier(self, stat: str) -> int:
        """The modifier of one named stat; raises `InvalidStats` for an unknown name."""
        return ability_modifier(self.value_of(stat))

    def value_of(self, stat: str) -> int:
        """The raw score of one named stat; raises `InvalidStats` for an unknown name."""
        if stat not in STAT_NAMES:
            raise InvalidStats(f"There is no stat called {stat!r}.")
        value: int = getattr(self, stat)
        return value


def _check_keys(d: Mapping[str, object]) -> None:
    missing = [name for name in STAT_NAMES if name not in d]
    if missing:
        raise InvalidStats(f"Missing a value for {', '.join(missing)}.")
    unknown = sorted(str(k) for k in d if k not in STAT_NAMES)
    if unknown:
        raise InvalidStats(f"Unknown stat {', '.join(unknown)}.")


def roll_stats(method: StatsMethod, rng: Rng) -> Stats:
    """Roll all six stats in `STAT_NAMES` order; raises `InvalidStats` for point buy."""
    if method is StatsMethod.THREE_D6:
        roll = _roll_3d6
    elif method is StatsMethod.FOUR_D6_DROP_LOWEST:
        roll = _roll_4d6_drop_lowest
    else:
        raise InvalidStats("Point-buy stats are chosen, not rolled.")
    return Stats(**{name: roll(rng) for name in STAT_NAMES})


def _roll_3d6(rng: Rng) -> int:
    return sum(rng.randint(1, 6) for _ in range(3))


def _roll_4d6_drop_lowest(rng: Rng) -> int:
    dice = [rng.randint(1, 6) for _ in range(4)]
    return sum(dice) - min(dice)


def point_buy_cost(values: Mapping[str, int]) -> int:
    """Points spent on these scores; raises `InvalidStats` for a score outside 8-15."""
    total = 0
    for name, value in values.items():
        if value not in POINT_BUY_COSTS:
            raise InvalidStats(
                f"{name.capitalize()} must be between {POINT_BUY_MIN} and {POINT_BUY_MAX}, "
                f"not {value}."
            )
        total += POINT_BUY_COSTS[value]
    return total


def point_buy(values: Mapping[str, int]) -> Stats:
    """Stats bought within the 27-point budget; raises `InvalidStats` with the broken rule."""
    stats = Stats.from_dict(values)
    cost = point_buy_cost(stats.as_dict())
    if cost > POINT_BUY_BUDGET:
        raise InvalidStats(
            f"Those scores cost {cost} points; you have only {POINT_BUY_BUDGET} to spend."
        )
    return stats


def missing_requirements(stats: Stats, requirements: Mapping[str, int]) -> list[str]:
    """One sentence per unmet minimum; raises `InvalidStats` for an unknown stat name."""
    unknown = sorted(set(requirements) - set(STAT_NAMES))
    if unknown:
        raise InvalidStats(f"Unknown stat {', '.join(unknown)} in the requirements.")
    missing = []
    for name in STAT_NAMES:
        needed = requirements.get(name)
        have = stats.value_of(name)
        if needed is not None and have < needed:
            missing.append(f"{name} {needed} needed, you have {have}")
    return missing


def meets_requirements(stats: Stats, requirements: Mapping[str, int]) -> bool:
    """True when every required minimum is met; raises `InvalidStats` for an unknown stat."""
    return not missing_requirements(stats, requirements)


def generate_for_profession(
    method: StatsMethod,
    rng: Rng,
    requirements: Mapping[str, int],
    max_attempts: int = 50,
) -> Stats:
    """Reroll until the profession's minimums are met; raises `InvalidStats` if they never are."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    for _ in range(max_attempts):
        stats = roll_stats(method, rng)
        if meets_requirements(stats, requirements):
            return stats
    raise InvalidStats(
        f"The dice did not favour that profession in {max_attempts} rolls; "
        "try another profession or point buy."
    )


def max_health_for(stats: Stats, level: int) -> int:
    """Maximum health at a level: 20, plus 5 a level, plus twice the constitution modifier."""
    if level < 1:
        raise ValueError(f"level must be at least 1, got {level}")
    health = BASE_HEALTH + HEALTH_PER_LEVEL * (level - 1) + 2 * stats.modifier("constitution")
    return max(MIN_MAX_HEALTH, health)
