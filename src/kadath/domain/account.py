"""An account (a person who logs in) and the professions a character may follow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: uuid.UUID
    username: str
    password_hash: str
    is_admin: bool = False
    created_at: datetime | None = None


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
