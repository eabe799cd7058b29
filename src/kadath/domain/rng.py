"""Chance as a collaborator: the `Rng` port, a seeded real one, and a scripted one for tests."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


class Rng(Protocol):
    """The only source of chance the rules see."""

    def randint(self, a: int, b: int) -> int:
        """A whole number in [a, b], both ends included."""
        ...

    def random(self) -> float:
        """A float in [0, 1)."""
        ...

    def choice(self, seq: Sequence[T]) -> T:
        """One element of a non-empty sequence."""
        ...


class RngExhausted(Exception):
    """A `FixedRng` was asked for more values than the test queued."""


class RandomRng:
    """The production `Rng`: `random.Random`, seedable for reproducible runs."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def randint(self, a: int, b: int) -> int:
        return self._random.randint(a, b)

    def random(self) -> float:
        return self._random.random()

    def choice(self, seq: Sequence[T]) -> T:
        return self._random.choice(seq)


class FixedRng:
    """A scripted `Rng` for tests: hands out queued values in order.

    Raises `RngExhausted` when a queue runs dry; `choice` picks index 0 when no queue was given.
    """

    def __init__(
        self,
        ints: Sequence[int] = (),
        floats: Sequence[float] = (),
        choices: Sequence[int] | None = None,
    ) -> None:
        for f in floats:
            if not 0.0 <= f < 1.0:
                raise ValueError(f"FixedRng floats must lie in [0, 1), got {f!r}")
        self._ints = list(ints)
        self._floats = list(floats)
        self._choices = None if choices is None else list(choices)

    @property
    def exhausted(self) -> bool:
        """True when every queued value has been used (lets tests prove a roll happened)."""
        return not self._ints and not self._floats and not self._choices

    def randint(self, a: int, b: int) -> int:
        """The next queued int, clamped into [a, b]; raises `RngExhausted`."""
        if a > b:
            raise ValueError(f"randint({a}, {b}): empty range")
        if not self._ints:
            raise RngExhausted(f"FixedRng has no ints left for randint({a}, {b})")
        return min(b, max(a, self._ints.pop(0)))

    def random(self) -> float:
        """The next queued float; raises `RngExhausted`."""
        if not self._floats:
            raise RngExhausted("FixedRng has no floats left for random()")
        return self._floats.pop(0)

    def choice(self, seq: Sequence[T]) -> T:
        """`seq[0]`, or `seq[next queued index]`; raises `RngExhausted` or `IndexError`."""
        if not seq:
            raise IndexError("cannot choose from an empty sequence")
        if self._choices is None:
            return seq[0]
        if not self._choices:
            raise RngExhausted(f"FixedRng has no choice indexes left for a {len(seq)}-item choice")
        index = self._choices.pop(0)
        if not 0 <= index < len(seq):
            raise IndexError(f"FixedRng choice index {index} outside a {len(seq)}-item sequence")
        return seq[index]
