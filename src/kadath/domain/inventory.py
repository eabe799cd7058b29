"""Carrying rules: how many items fit, and which item a typed word such as "2.sword" means."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

BASE_CARRY_SLOTS = 20


def carry_capacity(worn_container_capacities: Iterable[int]) -> int:
    """Item slots: the base 20 plus the capacity of every worn container (a satchel, a coat)."""
    capacities = list(worn_container_capacities)
    if any(c < 0 for c in capacities):
        raise ValueError(f"container capacities cannot be negative: {capacities}")
    return BASE_CARRY_SLOTS + sum(capacities)


def can_carry(current_count: int, adding: int, capacity: int) -> bool:
    if adding < 0:
        raise ValueError(f"cannot add a negative number of items: {adding}")
    return current_count + adding <= capacity


def match_keyword(word: str, candidates: Sequence[tuple[str, tuple[str, ...]]]) -> int | None:
    """Index of the candidate `word` names, or None.

    A word matches a (name, keywords) pair when a keyword starts with it or it is the whole
    name, ignoring case; "2.sword" means the second match.
    """
    ordinal, word = _split_ordinal(word.strip().lower())
    if ordinal < 1 or not word:
        return None
    seen = 0
    for index, (name, keywords) in enumerate(candidates):
        if name.lower() == word or any(k.lower().startswith(word) for k in keywords):
            seen += 1
            if seen == ordinal:
                return index
    return None


MAX_ORDINAL_DIGITS = 6


def _split_ordinal(word: str) -> tuple[int, str]:
    """ "2.sword" → (2, "sword"); only ASCII digits count ("².sword" names nothing), and an
    absurdly long ordinal is 0, which matches nothing (int() refuses over 4300 digits)."""
    prefix, dot, rest = word.partition(".")
    if dot and prefix.isascii() and prefix.isdecimal():
        return (int(prefix) if len(prefix) <= MAX_ORDINAL_DIGITS else 0), rest
    return 1, word
