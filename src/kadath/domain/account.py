"""An account (a person who logs in) and the professions a character may follow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from kadath.domain.errors import InvalidInput


class Role(StrEnum):
    """What an account may do; each role may do everything the roles below it may."""

    PLAYER = "player"
    BUILDER = "builder"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return _RANKS[self] >= _RANKS[other]  # asked on every command: no property in between

    def outranks(self, other: Role) -> bool:
        return self.rank > other.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        """Raises InvalidInput for an unknown role."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise InvalidInput(f"There is no role '{text[:20]}'; roles are {names}.") from None


_RANKS = {role: rank for rank, role in enumerate(Role)}


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    username: str
    password_hash: str
    role: Role = Role.PLAYER
    created_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    created_by: uuid.UUID
    created_at: datetime
    used_by: uuid.UUID | None = None
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Profession:
    id: int
    name: str
    description: str
    requirements: dict[str, int] = field(default_factory=dict)
