"""A player character, and the rules on names and amounts every store must enforce."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from kadath.domain.account import Role
from kadath.domain.errors import InvalidAmount, InvalidName
from kadath.domain.stats import MAX_LUCIDITY, Stats

NAME_MIN = 3
NAME_MAX = 20
# ASCII letters only, so no invisible, bidi, combining or look-alike character can slip in and
# ``casefold`` is a complete key for uniqueness. Matched with ``fullmatch``: "$" accepts "Name\n".
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]")
HEALTH_FLOOR = 0
MAX_AMOUNT = 1_000_000


@dataclass(slots=True)
class Player:
    """A character; mutable in memory, saved through ``PlayerRepository``."""

    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    room_id: str
    respawn_room_id: str
    stats: Stats
    health: int
    max_health: int
    profession_id: int
    lucidity: int = MAX_LUCIDITY
    experience: int = 0
    level: int = 1
    role: Role = Role.PLAYER  # the account's, loaded with the character
    created_at: datetime | None = None
    last_active_at: datetime | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_dead(self) -> bool:
        return self.health <= HEALTH_FLOOR

    def validate(self) -> None:
        """Check the invariants a stored row must hold. Raises InvalidName, InvalidAmount."""
        validate_name(self.name)
        if not 1 <= self.max_health <= MAX_AMOUNT:
            raise InvalidAmount(f"{self.name}: max health must be between 1 and {MAX_AMOUNT}.")
        if not HEALTH_FLOOR <= self.health <= self.max_health:
            raise InvalidAmount(f"{self.name}: health must lie between 0 and max health.")
        if not 0 <= self.lucidity <= MAX_LUCIDITY:
            raise InvalidAmount(f"{self.name}: lucidity must lie between 0 and {MAX_LUCIDITY}.")
        if self.experience < 0 or self.level < 1:
            raise InvalidAmount(f"{self.name}: experience and level cannot be negative.")


def validate_name(name: object) -> str:
    """Return the name if a character may bear it. Raises InvalidName."""
    if not isinstance(name, str):
        raise InvalidName("A name must be text.")
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise InvalidName(f"A name must be {NAME_MIN} to {NAME_MAX} letters long.")
    if not _NAME_RE.fullmatch(name):
        raise InvalidName(
            "A name may hold only the letters A to Z, with an apostrophe or hyphen inside."
        )
    return name


def name_key(name: str) -> str:
    """The case-insensitive key two names clash on."""
    return name.casefold()


def validate_amount(amount: object, *, allow_zero: bool = False) -> int:
    """Return a positive whole amount. Raises InvalidAmount."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("An amount must be a whole number.")
    low = 0 if allow_zero else 1
    if not low <= amount <= MAX_AMOUNT:
        raise InvalidAmount(f"An amount must be between {low} and {MAX_AMOUNT}.")
    return amount
