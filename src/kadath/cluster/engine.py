"""``kadath engine``: join the cluster and hold zones. It takes every zone nobody holds,
renews its leases, gives them back on SIGTERM or Ctrl-C, and drops any zone it is fenced off.
It does not run players, NPCs or commands yet (docs/scaling.md says what is still missing)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal

import structlog

from kadath.cluster.config import ClusterConfig
from kadath.cluster.errors import ClusterUnreachable
from kadath.cluster.fencing import check_schema, confirm, highest_epoch
from kadath.cluster.leases import (
    NATS_FAILURES,
    ZoneLeaseManager,
    advance_epochs,
    connect,
    open_bucket,
    open_pins,
)
from kadath.domain.world import World
from kadath.persistence.engine import create_engine

log = structlog.get_logger(__name__)


async def run_engine(config: ClusterConfig, world: World) -> None:
    """Hold zones until SIGTERM/SIGINT, then release them. Raises ClusterRefused (settings or
    schema) or ClusterUnreachable (NATS or PostgreSQL at start)."""
    zones = sorted(world.zones)
    database = create_engine(config.database_url, pool_size=2, max_overflow=2)
    try:
        await check_schema(database)
        nc = await connect(config, f"kadath-engine {config.engine_id}")
        try:
            try:
                kv = await open_bucket(nc, config)
                pins = await open_pins(nc, config)
                await advance_epochs(nc, config, await highest_epoch(database))
            except NATS_FAILURES as exc:
                raise ClusterUnreachable(f"NATS at {config.nats_url}: {exc!r}") from exc
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)

            async def lost(zone: str, epoch: int, reason: str) -> None:
                # Nothing runs in a zone yet; when it does, this is where it stops.
                log.info("zone_stopped", zone=zone, epoch=epoch, reason=reason)

            manager = ZoneLeaseManager(
                kv,
                owner=config.engine_id,
                lease_seconds=config.lease_seconds,
                renew_seconds=config.renew_seconds,
                confirm=functools.partial(confirm, database),
                on_lost=lost,
                pins=pins,
            )
            log.info("engine_started", engine=config.engine_id, zones=zones)
            try:
                await manager.run(lambda: zones, stop)
            finally:
                await asyncio.shield(manager.release_all())
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
            log.info("engine_stopped", engine=config.engine_id)
        finally:
            with contextlib.suppress(Exception):
                await nc.drain()
    finally:
        await database.dispose()
