"""/api/monitoring: liveness, readiness, statistics; and Prometheus /metrics."""

from __future__ import annotations

import time
from collections import Counter

from fastapi import Response

from kadath.web.dependencies import AdminDep, RuntimeDep
from kadath.web.metrics import load_prometheus, percentiles, render_metrics
from kadath.web.routes import Routes
from kadath.web.schemas import HealthOut, ReadyOut, StatsOut, error_responses

router = Routes(tags=["monitoring"])


@router.get("/api/monitoring/health", response_model=HealthOut)
async def health() -> HealthOut:
    """Liveness: the process answers."""
    return HealthOut()


@router.get("/api/monitoring/ready", response_model=ReadyOut, responses=error_responses(503))
async def ready(runtime: RuntimeDep) -> ReadyOut:
    """Readiness: the database answers."""
    await runtime.persistence.ping()
    return ReadyOut(database=runtime.persistence.engine.dialect.name)


@router.get(
    "/api/monitoring/stats",
    response_model=StatsOut,
    responses=error_responses(401, 403),
)
async def stats(_admin: AdminDep, runtime: RuntimeDep) -> StatsOut:
    """Admins: players online, commands handled, command latency percentiles, database pool."""
    game = runtime.game
    return StatsOut(
        players_online=len(game.presence),
        connections=runtime.hub.connected,
        telnet_connections=runtime.telnet_connections(),
        commands_handled=runtime.dispatcher.handled,
        command_latency_ms=percentiles(runtime.dispatcher.latencies),
        database_pool=runtime.persistence.pool_status(),
        uptime_seconds=round(time.monotonic() - game.started_at, 1),
        npcs=len(game.npcs),
        npcs_by_zone=dict(
            Counter(
                game.world.rooms[n.room_id].zone_id
                for n in game.npcs.all()
                if n.room_id in game.world.rooms
            )
        ),
        held_zones=None if game.zones.held is None else sorted(game.zones.held),
        extra=runtime.loop.stats(),
        startup_ms=runtime.startup_phases,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    await load_prometheus()
    body, content_type = render_metrics(runtime)
    return Response(body, media_type=content_type)
