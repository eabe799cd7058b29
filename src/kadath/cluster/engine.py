"""``kadath engine``: join the cluster, hold zones and serve their players. It is the runtime of
``kadath serve --cluster`` (the game, a ``ClusterNode`` taking every zone nobody holds,
renewing its leases and answering each held zone's tunnel ``open``) with no listener of its
own: no HTTP, no WebSocket, no telnet. Players reach it through ``kadath gateway`` (or ``serve
--cluster``) processes, which relay each connection to its zone's holder. On SIGTERM or Ctrl-C
it says goodbye to its players, saves them and gives its zones back."""

from __future__ import annotations

import asyncio
import signal

import structlog

from kadath.cluster.config import ClusterConfig
from kadath.cluster.fencing import check_schema
from kadath.cluster.serve import cluster_runtime
from kadath.persistence.engine import create_engine
from kadath.settings import Settings
from kadath.startup import StartupPhases

log = structlog.get_logger(__name__)


def engine_settings(settings: Settings) -> Settings:
    """An engine listens for nobody: telnet off whatever the settings say."""
    return settings.model_copy(update={"telnet_port": 0})


async def run_engine(config: ClusterConfig, settings: Settings) -> None:
    """Hold zones and serve their players until SIGTERM/SIGINT, then release them. Raises
    ClusterRefused (settings or schema) or ClusterUnreachable (NATS or PostgreSQL at start)."""
    database = create_engine(config.database_url, pool_size=1, max_overflow=0)
    try:
        await check_schema(database)  # engines never migrate: refuse before the runtime would
    finally:
        await database.dispose()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with cluster_runtime(engine_settings(settings), config, StartupPhases()) as runtime:
            log.info(
                "engine_started",
                engine=config.engine_id,
                zones=sorted(runtime.game.world.zones),
            )
            try:
                await stop.wait()
            finally:
                # Tell and save the players first; the node then gives the zones back.
                await asyncio.shield(runtime.hub.shutdown())
        log.info("engine_stopped", engine=config.engine_id)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
