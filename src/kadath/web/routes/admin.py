"""/api/admin: roles, zone grants, bans, the report queue and the audit log (docs/moderation.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from kadath.domain.errors import NotFound
from kadath.domain.moderation import AuditAction, AuditFilter
from kadath.services.moderation import Actor
from kadath.web.dependencies import AdminDep, ModeratorDep, RuntimeDep
from kadath.web.routes import Routes
from kadath.web.schemas import (
    AccountOut,
    AuditOut,
    BanIn,
    DoneOut,
    GrantOut,
    ReportOut,
    RoleIn,
    error_responses,
)

router = Routes(prefix="/api/admin", tags=["admin"])
_ERRORS = error_responses(400, 401, 403, 404, 422)


@router.put("/accounts/{name}/role", response_model=AccountOut, responses=_ERRORS)
async def grant_role(name: str, body: RoleIn, admin: AdminDep, runtime: RuntimeDep) -> AccountOut:
    """Admins: give the account ``name`` (or the account of the character ``name``) a role.
    Not your own; characters in play take it at once."""
    account = await runtime.moderation.roles.grant(Actor.of_account(admin), name, body.role)
    return AccountOut.of(account)


@router.put("/accounts/{name}/ban", response_model=DoneOut, responses=_ERRORS)
async def ban(name: str, body: BanIn, admin: AdminDep, runtime: RuntimeDep) -> DoneOut:
    """Admins: ban an account for a duration (``10m``, ``2h``, ``7d``) or ``forever``; its
    characters online are disconnected at once."""
    actor = Actor.of_account(admin)
    return DoneOut(
        text=await runtime.moderation.moderation.ban(actor, name, body.duration, body.reason)
    )


@router.delete("/accounts/{name}/ban", response_model=DoneOut, responses=_ERRORS)
async def unban(name: str, admin: AdminDep, runtime: RuntimeDep) -> DoneOut:
    """Admins: lift an account's ban."""
    return DoneOut(text=await runtime.moderation.moderation.unban(Actor.of_account(admin), name))


@router.get("/accounts/{name}/zones", response_model=list[GrantOut], responses=_ERRORS)
async def zone_grants(name: str, admin: AdminDep, runtime: RuntimeDep) -> list[GrantOut]:
    """Admins: the zones the account ``name`` may build in."""
    listed = await runtime.moderation.grants.of(Actor.of_account(admin), name)
    return [GrantOut.of(g) for g in listed]


@router.put("/accounts/{name}/zones/{zone}", response_model=DoneOut, responses=_ERRORS)
async def grant_zone(name: str, zone: str, admin: AdminDep, runtime: RuntimeDep) -> DoneOut:
    """Admins: let the account ``name`` build in zone ``zone`` (404 for an unknown zone)."""
    grants = runtime.moderation.grants
    account, new = await grants.grant(Actor.of_account(admin), name, zone)
    state = "may now" if new else "may already"
    return DoneOut(text=f"{account.username} {state} build in {grants.zone_name(zone)}.")


@router.delete("/accounts/{name}/zones/{zone}", response_model=DoneOut, responses=_ERRORS)
async def revoke_zone(name: str, zone: str, admin: AdminDep, runtime: RuntimeDep) -> DoneOut:
    """Admins: take back the account's grant of ``zone`` (404 when it had none)."""
    grants = runtime.moderation.grants
    account, had = await grants.revoke(Actor.of_account(admin), name, zone)
    if not had:
        raise NotFound(f"{account.username} has no grant of {zone[:64]}.")
    return DoneOut(text=f"{account.username} may no longer build in {grants.zone_name(zone)}.")


@router.get("/reports", response_model=list[ReportOut], responses=_ERRORS)
async def open_reports(_moderator: ModeratorDep, runtime: RuntimeDep) -> list[ReportOut]:
    """Moderators: the open reports, oldest first."""
    return [ReportOut.of(r) for r in await runtime.moderation.reports.open_reports()]


@router.get("/audit", response_model=list[AuditOut], responses=_ERRORS)
async def audit_log(
    _moderator: ModeratorDep,
    runtime: RuntimeDep,
    actor: Annotated[str | None, Query(max_length=32)] = None,
    target: Annotated[str | None, Query(max_length=32)] = None,
    action: AuditAction | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    """Moderators: the audit log, newest first; every filter given must match (names in
    any case; ``since`` an ISO 8601 time with its zone)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    where = AuditFilter(actor=actor, target=target, action=action, since=since, limit=limit)
    return [AuditOut.of(e) for e in await runtime.moderation.reports.audit_log(where)]
