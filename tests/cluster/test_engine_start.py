"""``run_engine`` in this process: it refuses a schema behind the head, and when NATS lost its
store (its sequence is behind the epochs PostgreSQL recorded) it moves the stream past them
before taking zones, so the new epochs are not fenced off."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from kadath_cluster import SLACK_SECONDS, PrivateNats, cluster_config, eventually, serve_settings

from kadath.cluster.engine import run_engine
from kadath.cluster.errors import ClusterRefused
from kadath.cluster.fencing import Claim, fenced_touch
from kadath.cluster.zones import zone_statuses
from kadath.persistence import migrate
from kadath.persistence.engine import create_engine
from kadath.world import DEFAULT_WORLD_DIR, load_world

pytestmark = pytest.mark.postgres
WORLD = load_world(DEFAULT_WORLD_DIR)
ZONES = sorted(WORLD.zones)
RECORDED_EPOCH = 1000
SET_REVISION = sa.text("UPDATE alembic_version SET version_num = :revision")


async def test_an_engine_after_nats_lost_its_store_takes_zones_under_newer_epochs_then_sigterm(
    database_url: str, nats_server: PrivateNats
) -> None:
    database = create_engine(database_url, pool_size=1, max_overflow=0)
    try:  # epochs recorded by a cluster whose NATS store is gone
        for zone in ZONES:
            await fenced_touch(database, Claim(zone, "old-engine", RECORDED_EPOCH))
    finally:
        await database.dispose()
    config = cluster_config(database_url, nats_server.url, "inproc")
    settings = serve_settings(database_url, nats_server.url, nats_server.store.parent)
    engine = asyncio.create_task(run_engine(config, settings))

    async def all_held() -> bool:
        if engine.done():
            engine.result()  # raises what stopped it
        statuses = await zone_statuses(config, ZONES)
        return all(s.owner == s.recorded_owner == "inproc" for s in statuses)

    await eventually(all_held, SLACK_SECONDS, "the engine holds every zone")
    statuses = await zone_statuses(config, ZONES)
    assert all(s.epoch is not None and s.epoch > RECORDED_EPOCH for s in statuses)

    os.kill(os.getpid(), signal.SIGTERM)  # its handler is installed: it stops the engine
    await asyncio.wait_for(engine, SLACK_SECONDS)

    assert all(s.owner is None for s in await zone_statuses(config, ZONES))


async def test_an_engine_refuses_a_schema_behind_the_head(
    database_url: str, nats_server: PrivateNats
) -> None:
    database = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with database.begin() as conn:
            await conn.execute(
                sa.text("UPDATE alembic_version SET version_num = '0004_build_grants'")
            )
        config = cluster_config(database_url, nats_server.url, "inproc")
        settings = serve_settings(database_url, nats_server.url, nats_server.store.parent)
        with pytest.raises(ClusterRefused, match="run `kadath db upgrade` first"):
            await run_engine(config, settings)
    finally:
        async with database.begin() as conn:
            head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
            await conn.execute(
                sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
        await database.dispose()
