"""Fencing in PostgreSQL: a zone's recorded epoch only ever rises, and a write of zone-owned
state happens in a transaction that first confirms (or raises) it.

``fence`` runs ``INSERT … ON CONFLICT (zone) DO UPDATE … WHERE zone_leases.epoch <= :epoch``
(``confirm`` does the same for many zones in one statement, for an engine's renewals):
it records the caller's epoch and takes the row's lock until the transaction ends, or changes
nothing when a newer epoch is recorded, and then raises ``Fenced``. Because the row stays locked
until commit, a new owner's claim waits for an older owner's in-flight transaction and every
later write by the older owner is refused: an engine whose lease was taken over cannot commit
zone-owned state, however long it stalled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from kadath.cluster.errors import ClusterRefused, ClusterUnreachable, Fenced
from kadath.persistence import migrate
from kadath.persistence.models import ZoneLeaseRow, utcnow

ZONE_LEASES = cast(sa.Table, ZoneLeaseRow.__table__)


@dataclass(frozen=True, slots=True)
class Claim:
    """An engine's hold on a zone: the lease revision it won is its epoch."""

    zone: str
    owner: str
    epoch: int


@dataclass(frozen=True, slots=True)
class RecordedLease:
    zone: str
    owner: str
    epoch: int
    updated_at: datetime


def _upsert(claims: Sequence[Claim]) -> ReturningInsert[tuple[str]]:
    """Record each claim's epoch where no newer one is recorded; RETURNING the zones taken.
    Rows are locked in zone order, so two engines confirming overlapping zones cannot
    deadlock."""
    now = utcnow()
    rows = [
        {"zone": c.zone, "owner": c.owner, "epoch": c.epoch, "updated_at": now}
        for c in sorted(claims, key=lambda c: c.zone)
    ]
    stmt = insert(ZONE_LEASES).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=[ZONE_LEASES.c.zone],
        set_={
            "owner": stmt.excluded.owner,
            "epoch": stmt.excluded.epoch,
            "updated_at": stmt.excluded.updated_at,
        },
        where=ZONE_LEASES.c.epoch <= stmt.excluded.epoch,
    ).returning(ZONE_LEASES.c.zone)


async def fence(session: AsyncSession, claim: Claim) -> None:
    """Inside a unit of work (``uow.session``) before writing the zone's state: record the
    claim's epoch and lock the zone's row until the transaction ends; raise ``Fenced`` (the
    caller's transaction then rolls back) when a newer epoch is recorded."""
    if (await session.execute(_upsert([claim]))).first() is not None:
        return
    recorded = await session.scalar(
        sa.select(ZONE_LEASES.c.epoch).where(ZONE_LEASES.c.zone == claim.zone)
    )
    raise Fenced(claim.zone, claim.epoch, recorded)


async def confirm(engine: AsyncEngine, claims: Sequence[Claim]) -> set[str]:
    """One committed transaction, one statement for all ``claims``: how an engine records that
    it holds its zones (at acquisition and on each renewal). The zones refused: a newer epoch
    is recorded for them."""
    if not claims:
        return set()
    async with engine.begin() as conn:
        accepted = set((await conn.execute(_upsert(claims))).scalars())
    return {c.zone for c in claims} - accepted


async def fenced_touch(engine: AsyncEngine, claim: Claim) -> None:
    """``confirm`` for one claim, raising ``Fenced`` when it is refused."""
    if await confirm(engine, [claim]):
        recorded = (await recorded_leases(engine)).get(claim.zone)
        raise Fenced(claim.zone, claim.epoch, recorded.epoch if recorded else None)


async def check_schema(database: AsyncEngine) -> None:
    """Refuse a database whose schema is not at the newest migration (an engine never
    migrates: several starting at once would race)."""
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    try:
        current = await migrate.current_revision(database)
    except (SQLAlchemyError, OSError) as exc:
        raise ClusterUnreachable(f"cannot reach PostgreSQL: {exc!r}") from exc
    if current != head:
        raise ClusterRefused(
            f"the database is at revision {current}, not {head}: run `kadath db upgrade` first"
        )


async def recorded_leases(engine: AsyncEngine) -> dict[str, RecordedLease]:
    """Every zone's recorded owner and epoch."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(ZONE_LEASES))).all()
    return {r.zone: RecordedLease(r.zone, r.owner, r.epoch, r.updated_at) for r in rows}


async def highest_epoch(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(sa.select(sa.func.max(ZoneLeaseRow.epoch)))
    return int(value or 0)
