"""Experience and levels: the XP curve, what a kill is worth, what exploring is worth."""

from __future__ import annotations

MAX_LEVEL = 50
EXPLORATION_XP = 5

# A victim this many levels below the killer still gives full XP; each level further costs 20%.
KILL_XP_GRACE_LEVELS = 2
KILL_XP_PENALTY_STEPS = 5


def xp_for_level(level: int) -> int:
    """Total XP needed to reach a level: 50·L·(L-1), so level 2 is 100 and 3 is 300."""
    if not 1 <= level <= MAX_LEVEL:
        raise ValueError(f"level must be between 1 and {MAX_LEVEL}, got {level}")
    return 50 * level * (level - 1)


def level_for_xp(xp: int) -> int:
    """The highest level this much XP reaches, capped at `MAX_LEVEL`."""
    if xp < 0:
        raise ValueError(f"xp cannot be negative, got {xp}")
    level = 1
    while level < MAX_LEVEL and xp_for_level(level + 1) <= xp:
        level += 1
    return level


def xp_to_next_level(xp: int) -> int | None:
    """XP still needed for the next level, or None at `MAX_LEVEL`."""
    level = level_for_xp(xp)
    if level == MAX_LEVEL:
        return None
    return xp_for_level(level + 1) - xp


def xp_for_kill(victim_level: int, killer_level: int, base_xp: int) -> int:
    """XP for a kill: full for a fair fight, less for a much weaker victim, never below 1."""
    if base_xp < 0:
        raise ValueError(f"base_xp cannot be negative, got {base_xp}")
    excess = max(0, killer_level - victim_level - KILL_XP_GRACE_LEVELS)
    # Whole-number steps keep it exact: a float factor gives int(10 * (1 - 0.2 * 3)) == 3, not 4.
    steps_left = max(0, KILL_XP_PENALTY_STEPS - excess)
    return max(1, base_xp * steps_left // KILL_XP_PENALTY_STEPS)
