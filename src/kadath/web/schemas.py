"""The JSON bodies of the REST API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kadath.domain.account import Account, Invite, Profession, Role
from kadath.domain.build_grant import GrantListing
from kadath.domain.moderation import AuditAction, AuditEntry, Report
from kadath.domain.player import Player
from kadath.domain.stats import StatsMethod


class ErrorOut(BaseModel):
    detail: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route may answer with."""
    return {code: {"model": ErrorOut} for code in codes}


class RegisterIn(BaseModel):
    username: str = Field(min_length=3, max_length=32, examples=["lovecraft"])
    password: str = Field(min_length=8, max_length=128)
    invite_code: str | None = Field(default=None, max_length=64)


class AccountOut(BaseModel):
    id: uuid.UUID
    username: str
    is_admin: bool
    role: Role

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id, username=account.username, is_admin=account.is_admin, role=account.role
        )


class RoleIn(BaseModel):
    role: Role


class BanIn(BaseModel):
    duration: str = Field(max_length=20, examples=["7d", "forever"])
    reason: str = Field(min_length=1, max_length=300)


class DoneOut(BaseModel):
    text: str


class GrantOut(BaseModel):
    account_id: uuid.UUID
    username: str
    zone_id: str
    granted_by: str | None
    granted_at: datetime

    @classmethod
    def of(cls, listed: GrantListing) -> GrantOut:
        grant = listed.grant
        return cls(
            account_id=grant.account_id,
            username=listed.username,
            zone_id=grant.zone_id,
            granted_by=listed.granted_by,
            granted_at=grant.granted_at,
        )


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: AuditAction
    target: str
    detail: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            detail=entry.detail,
        )


class ReportOut(BaseModel):
    id: int
    reporter: str
    target: str
    text: str
    created_at: datetime

    @classmethod
    def of(cls, report: Report) -> ReportOut:
        return cls(
            id=report.id,
            reporter=report.reporter,
            target=report.target,
            text=report.text,
            created_at=report.created_at,
        )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105


class InviteOut(BaseModel):
    code: str
    created_at: datetime
    used: bool

    @classmethod
    def of(cls, invite: Invite) -> InviteOut:
        return cls(code=invite.code, created_at=invite.created_at, used=invite.used_by is not None)


class StatsBody(BaseModel):
    strength: int = Field(ge=1, le=30)
    dexterity: int = Field(ge=1, le=30)
    constitution: int = Field(ge=1, le=30)
    intelligence: int = Field(ge=1, le=30)
    wisdom: int = Field(ge=1, le=30)
    charisma: int = Field(ge=1, le=30)


class PlayerCreateIn(BaseModel):
    name: str = Field(min_length=3, max_length=20, examples=["Armitage"])
    profession_id: int = Field(ge=1, le=1_000_000)
    stats_method: StatsMethod = StatsMethod.FOUR_D6_DROP_LOWEST
    stats: StatsBody | None = None


class PlayerOut(BaseModel):
    id: uuid.UUID
    name: str
    profession_id: int
    profession: str | None
    level: int
    experience: int
    health: int
    max_health: int
    lucidity: int
    room_id: str
    room_name: str | None
    stats: StatsBody
    online: bool
    created_at: datetime | None

    @classmethod
    def of(
        cls, player: Player, *, profession: str | None, room_name: str | None, online: bool
    ) -> PlayerOut:
        return cls(
            id=player.id,
            name=player.name,
            profession_id=player.profession_id,
            profession=profession,
            level=player.level,
            experience=player.experience,
            health=player.health,
            max_health=player.max_health,
            lucidity=player.lucidity,
            room_id=player.room_id,
            room_name=room_name,
            stats=StatsBody(**player.stats.as_dict()),
            online=online,
            created_at=player.created_at,
        )


class ProfessionOut(BaseModel):
    id: int
    name: str
    description: str
    requirements: dict[str, int]

    @classmethod
    def of(cls, p: Profession) -> ProfessionOut:
        return cls(id=p.id, name=p.name, description=p.description, requirements=p.requirements)


class RoomOut(BaseModel):
    id: str
    zone_id: str
    name: str
    description: str
    exits: dict[str, str]
    flags: list[str]


class ItemOut(BaseModel):
    id: uuid.UUID
    prototype_id: str
    name: str


class ContainerOut(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    capacity: int
    locked: bool
    room_id: str | None
    items: list[ItemOut]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    database: str


class StatsOut(BaseModel):
    players_online: int
    connections: int
    telnet_connections: int = 0  # open, signed in or not (also counted in connections once in)
    commands_handled: int
    command_latency_ms: dict[str, float]
    database_pool: dict[str, int]
    uptime_seconds: float
    npcs: int
    npcs_by_zone: dict[str, int] = Field(
        default_factory=dict, description="NPCs alive in this process, by zone"
    )
    held_zones: list[str] | None = Field(
        default=None,
        description="The zones whose NPCs and fights this process runs (serve --cluster); "
        "null: every zone",
    )
    extra: dict[str, float] = Field(default_factory=dict)
    startup_ms: dict[str, float] = Field(
        default_factory=dict, description="How long each start-up phase took (ms)"
    )
