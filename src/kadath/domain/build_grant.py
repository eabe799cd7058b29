"""A builder's grant of one zone: building commands work there (docs/building.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BuildGrant:
    account_id: uuid.UUID
    zone_id: str
    granted_by: uuid.UUID | None
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class GrantListing:
    """A grant as listed: with the names of the account and of the admin who granted it."""

    username: str
    granted_by: str | None
    grant: BuildGrant
