"""``kadath zones``: who holds each zone, from the lease bucket and from PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import nats.js.errors

from kadath.cluster.config import ClusterConfig
from kadath.cluster.errors import ClusterError, ClusterRefused
from kadath.cluster.fencing import check_schema, recorded_leases
from kadath.cluster.leases import (
    PINS_SUFFIX,
    LeaseValue,
    close,
    connect,
    open_pins,
    read_pins,
    zone_key,
)
from kadath.persistence.engine import create_engine


@dataclass(frozen=True, slots=True)
class ZoneStatus:
    zone: str
    owner: str | None  # the lease holder in NATS; None: nobody
    epoch: int | None  # the lease's epoch (the revision that created it)
    revision: int | None  # the lease's latest revision
    recorded_owner: str | None  # the fencing record in PostgreSQL
    recorded_epoch: int | None
    pinned_to: str | None = None  # ``kadath zones pin``: the only engine that may hold it
    players: int | None = None  # in play in the zone at the holder's last renewal
    npcs: int | None = None  # alive in the zone at the holder's last renewal


async def zone_statuses(config: ClusterConfig, zones: list[str]) -> list[ZoneStatus]:
    database = create_engine(config.database_url, pool_size=1, max_overflow=0)
    try:
        await check_schema(database)
        recorded = await recorded_leases(database)
    finally:
        await database.dispose()
    leases: dict[str, tuple[LeaseValue | None, int | None]] = {}
    pins: dict[str, str] = {}
    nc = await connect(config, "kadath zones", quiet=True)
    try:
        js = nc.jetstream(timeout=5)
        with contextlib.suppress(nats.js.errors.BucketNotFoundError):
            kv = await js.key_value(config.bucket)
            for zone in zones:
                with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                    entry = await kv.get(zone_key(zone))
                    leases[zone] = (LeaseValue.decode(entry.value), entry.revision)
        with contextlib.suppress(nats.js.errors.BucketNotFoundError):
            pins = await read_pins(await js.key_value(config.bucket + PINS_SUFFIX), zones)
    finally:
        await close(nc)
    statuses = []
    for zone in sorted(set(zones) | set(recorded)):
        value, revision = leases.get(zone, (None, None))
        record = recorded.get(zone)
        epoch = None
        if value is not None:
            epoch = value.epoch if value.epoch is not None else revision
        statuses.append(
            ZoneStatus(
                zone,
                value.owner if value else None,
                epoch,
                revision,
                record.owner if record else None,
                record.epoch if record else None,
                pins.get(zone),
                value.players if value else None,
                value.npcs if value else None,
            )
        )
    return statuses


async def pin(config: ClusterConfig, zones: list[str], zone: str, engine: str | None) -> None:
    """Pin ``zone`` to ``engine`` (its holder gives it up at its next renewal and that engine
    takes it), or unpin it (``engine`` None: any engine may hold it)."""
    if zone not in zones:
        raise ClusterRefused(f"no zone {zone!r} in the world (zones: {', '.join(zones)})")
    nc = await connect(config, "kadath zones", quiet=True)
    try:
        pins = await open_pins(nc, config)
        if engine is None:
            await pins.delete(zone)
        else:
            await pins.put(zone, engine.encode())
    finally:
        await close(nc)


async def move(
    config: ClusterConfig, zones: list[str], zone: str, engine: str, within: float
) -> ZoneStatus:
    """Hand ``zone`` to ``engine``: pin it there until that engine holds it (in NATS, and as
    the recorded owner in PostgreSQL), then unpin it, so it stays but may move again later.
    Raises ClusterError when that did not happen within ``within`` seconds (unpinned again)."""
    await pin(config, zones, zone, engine)
    deadline = time.monotonic() + within
    try:
        while True:
            [status] = [s for s in await zone_statuses(config, [zone]) if s.zone == zone]
            if status.owner == status.recorded_owner == engine:
                return status
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"engine {engine!r} did not take zone {zone!r} within {within:g}s "
                    "(is it running?); the zone is unpinned again"
                )
            await asyncio.sleep(1.0)
    finally:
        await pin(config, zones, zone, None)


def move_bound(config: ClusterConfig) -> float:
    """How long a move may take: the holder gives the zone up at its next renewal and the
    target takes it at its next; a holder that died first lets its lease lapse. Plus slack."""
    return config.lease_seconds + 4 * config.renew_seconds + 10.0


def format_statuses(statuses: list[ZoneStatus]) -> str:
    header = (
        "ZONE",
        "OWNER",
        "EPOCH",
        "RECORDED OWNER",
        "RECORDED EPOCH",
        "PINNED TO",
        "PLAYERS",
        "NPCS",
    )
    rows = [header] + [
        (
            s.zone,
            s.owner or "-",
            "-" if s.epoch is None else str(s.epoch),
            s.recorded_owner or "-",
            "-" if s.recorded_epoch is None else str(s.recorded_epoch),
            s.pinned_to or "-",
            "-" if s.players is None else str(s.players),
            "-" if s.npcs is None else str(s.npcs),
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
