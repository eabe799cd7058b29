"""Fencing in PostgreSQL: a zone's recorded epoch only ever rises, and a write of zone-owned
state happens in a transaction that first confirms (or raises) it.

``fence`` runs ``INSERT … ON CONFLICT (zone) DO UPDATE … WHERE zone_leases.epoch <= :epoch``:
it records the caller's epoch and takes the row's lock until the transaction ends, or changes
nothing when a newer epoch is recorded, and then raises ``Fenced``. Because the row stays locked
until commit, a new owner's claim waits for an older owner's in-flight transaction and every
later write by the older owner is refused: an engine whose lease was taken over cannot commit
zone-owned state, however long it stalled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kadath.cluster.errors import ClusterRefused, ClusterUnreachable, Fenced
from kadath.persistence import migrate
from kadath.persistence.models import ZoneLeaseRow, utcnow


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


async def fence(session: AsyncSession, claim: Claim) -> None:
    """Inside a unit of work (``uow.session``) before writing the zone's state: record the
    claim's epoch and lock the zone's row until the transaction ends; raise ``Fenced`` (the
    caller's transaction then rolls back) when a newer epoch is recorded."""
    table = ZoneLeaseRow.__table__
    stmt = insert(ZoneLeaseRow).values(
        zone=claim.zone, owner=claim.owner, epoch=claim.epoch, updated_at=utcnow()
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.zone],
        set_={
            "owner": stmt.excluded.owner,
            "epoch": stmt.excluded.epoch,
            "updated_at": stmt.excluded.updated_at,
        },
        where=table.c.epoch <= stmt.excluded.epoch,
    ).returning(table.c.epoch)
    if (await session.execute(upsert)).first() is not None:
        return
    recorded = await session.scalar(sa.select(table.c.epoch).where(table.c.zone == claim.zone))
    raise Fenced(claim.zone, claim.epoch, recorded)


async def fenced_touch(engine: AsyncEngine, claim: Claim) -> None:
    """One committed fence on its own: how an engine records that it holds the zone (at
    acquisition and on each renewal). Raises ``Fenced`` when it no longer does."""
    async with AsyncSession(engine) as session, session.begin():
        await fence(session, claim)


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
    table = ZoneLeaseRow.__table__
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(table))).all()
    return {r.zone: RecordedLease(r.zone, r.owner, r.epoch, r.updated_at) for r in rows}


async def highest_epoch(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(sa.select(sa.func.max(ZoneLeaseRow.epoch)))
    return int(value or 0)
