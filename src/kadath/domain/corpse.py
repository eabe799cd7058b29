"""Corpse rules: who may loot, when a corpse decays, and what falls out when it does.

When a corpse decays, every item still inside falls to the floor of its room, so decay never
silently destroys anything; only an empty corpse simply crumbles away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kadath.domain.rng import Rng
from kadath.domain.world import ItemStack, LootEntry


@dataclass(frozen=True, slots=True)
class CorpseRules:
    """Only the dead player may loot during the grace period; the corpse lasts `decay_seconds`."""

    owner_grace_seconds: float = 300
    decay_seconds: float = 1800

    def __post_init__(self) -> None:
        if self.owner_grace_seconds < 0 or self.decay_seconds < 0:
            raise ValueError("corpse timings cannot be negative")


DEFAULT_CORPSE_RULES = CorpseRules()


class DecayDisposition(StrEnum):
    CRUMBLE = "crumble"
    """Empty: the corpse is simply removed."""
    SPILL_TO_FLOOR = "spill_to_floor"
    """Not empty: its items move to the room floor, then the corpse is removed."""


def can_loot(
    looter_player_id: str | None,
    owner_player_id: str | None,
    created_at: datetime,
    now: datetime,
    rules: CorpseRules = DEFAULT_CORPSE_RULES,
) -> bool:
    """NPC corpses are anyone's; a player's corpse is its owner's alone until the grace ends."""
    if owner_player_id is None or looter_player_id == owner_player_id:
        return True
    return now >= created_at + timedelta(seconds=rules.owner_grace_seconds)


def decays_at(created_at: datetime, rules: CorpseRules = DEFAULT_CORPSE_RULES) -> datetime:
    return created_at + timedelta(seconds=rules.decay_seconds)


def is_decayed(
    created_at: datetime, now: datetime, rules: CorpseRules = DEFAULT_CORPSE_RULES
) -> bool:
    return now >= decays_at(created_at, rules)


def decay_disposition(item_count: int) -> DecayDisposition:
    """What decay does with a corpse holding `item_count` items (see the module docstring)."""
    if item_count < 0:
        raise ValueError(f"item_count cannot be negative, got {item_count}")
    return DecayDisposition.SPILL_TO_FLOOR if item_count else DecayDisposition.CRUMBLE


def decay_message(corpse: str, disposition: DecayDisposition) -> str:
    """The line the room sees as a corpse (named as by `corpse_name`) decays."""
    line = f"{corpse[:1].upper()}{corpse[1:]} crumbles into dust"
    if disposition is DecayDisposition.SPILL_TO_FLOOR:
        return f"{line}, and its belongings spill onto the floor."
    return f"{line}."


def corpse_name(owner_name: str) -> str:
    return f"the corpse of {owner_name}"


def corpse_keywords(owner_name: str) -> tuple[str, ...]:
    """Words a player can type to mean this corpse: "corpse" and each word of the name."""
    return ("corpse", *(word.lower() for word in owner_name.split()))


def roll_loot(entries: Sequence[LootEntry], rng: Rng) -> list[ItemStack]:
    """The stacks that drop, one `rng.random()` per uncertain entry, none for certain ones."""
    drops = []
    for entry in entries:
        if entry.chance >= 1.0 or (entry.chance > 0.0 and rng.random() < entry.chance):
            drops.append(ItemStack(entry.prototype_id, entry.count))
    return drops
