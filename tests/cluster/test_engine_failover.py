"""``kadath engine`` as real subprocesses: a killed engine's zones move to another within the
lease bound; a stalled one comes back fenced and drops its zones; SIGTERM hands them over."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from kadath_cluster import (
    LEASE_SECONDS,
    RENEW_SECONDS,
    SLACK_SECONDS,
    EngineProcess,
    PrivateNats,
    cluster_config,
    eventually,
)

from kadath.cluster.zones import ZoneStatus, zone_statuses
from kadath.world import DEFAULT_WORLD_DIR, load_world

pytestmark = [pytest.mark.postgres, pytest.mark.fault]

ZONES = sorted(load_world(DEFAULT_WORLD_DIR).zones)
# A start under load: interpreter, imports, world files, connections.
START_SECONDS = 60.0
# A dead engine's last renewal was at most one period before it died; its leases lapse one
# lease length after that, and the survivor tries every period.
LEASE_BOUND = LEASE_SECONDS + 2 * RENEW_SECONDS

Launch = Callable[[str], Awaitable[EngineProcess]]


@pytest.fixture
async def launch(
    database_url: str, nats_server: PrivateNats, tmp_path: Path
) -> AsyncIterator[Launch]:
    engines: list[EngineProcess] = []

    async def start(engine_id: str) -> EngineProcess:
        engine = EngineProcess(engine_id, database_url, nats_server.url, tmp_path)
        engines.append(engine)
        await engine.start()
        return engine

    yield start
    for engine in engines:
        await engine.close()


def statuses(
    database_url: str, nats_server: PrivateNats
) -> Callable[[], Awaitable[list[ZoneStatus]]]:
    config = cluster_config(database_url, nats_server.url, "observer")
    return lambda: zone_statuses(config, ZONES)


def held_by(
    read: Callable[[], Awaitable[list[ZoneStatus]]], engine: str
) -> Callable[[], Awaitable[bool]]:
    """True when ``engine`` holds every zone in NATS and is the recorded owner in PostgreSQL."""

    async def check() -> bool:
        return all(s.owner == engine and s.recorded_owner == engine for s in await read())

    return check


async def test_a_killed_engines_zones_are_taken_by_another_within_the_lease_bound(
    launch: Launch, database_url: str, nats_server: PrivateNats
) -> None:
    read = statuses(database_url, nats_server)
    first = await launch("first")
    await eventually(held_by(read, "first"), START_SECONDS, "the first engine holds every zone")
    before = {s.zone: s.epoch for s in await read()}
    second = await launch("second")
    await eventually(lambda: _started(second), START_SECONDS, "the second engine is up")

    first.signal(signal.SIGKILL)
    took = await eventually(
        held_by(read, "second"),
        LEASE_BOUND + SLACK_SECONDS,
        "the second engine holds every zone",
    )

    after = await read()
    assert all(s.epoch is not None and s.epoch > (before[s.zone] or 0) for s in after)
    assert all(s.recorded_epoch == s.epoch for s in after)
    print(f"zones moved {took:.1f}s after SIGKILL (lease bound {LEASE_BOUND:g}s)")


async def test_a_stalled_engine_past_its_lease_is_fenced_when_it_resumes_and_drops_its_zones(
    launch: Launch, database_url: str, nats_server: PrivateNats
) -> None:
    read = statuses(database_url, nats_server)
    stalled = await launch("stalled")
    await eventually(held_by(read, "stalled"), START_SECONDS, "the engine holds every zone")
    second = await launch("second")
    await eventually(lambda: _started(second), START_SECONDS, "the second engine is up")

    stalled.signal(signal.SIGSTOP)
    await eventually(
        held_by(read, "second"), LEASE_BOUND + SLACK_SECONDS, "the second engine took over"
    )
    taken = {s.zone: s.epoch for s in await read()}
    stalled.signal(signal.SIGCONT)

    # Its first act on waking is a write through the fence: refused, so it drops each zone.
    await eventually(
        lambda: _dropped(stalled, set(ZONES)),
        SLACK_SECONDS,
        "the resumed engine drops every zone as fenced",
    )
    assert {r["reason"] for r in stalled.events("zone_dropped")} == {"fenced"}
    after = await read()
    assert all(s.owner == s.recorded_owner == "second" for s in after)
    assert {s.zone: s.recorded_epoch for s in after} == taken
    assert stalled.process is not None and stalled.process.returncode is None  # still running


async def test_sigterm_releases_every_zone_and_another_engine_takes_them(
    launch: Launch, database_url: str, nats_server: PrivateNats
) -> None:
    read = statuses(database_url, nats_server)
    first = await launch("first")
    await eventually(held_by(read, "first"), START_SECONDS, "the first engine holds every zone")

    first.signal(signal.SIGTERM)
    assert await first.wait() == 0

    assert {r["zone"] for r in first.events("zone_released")} == set(ZONES)
    assert all(s.owner is None for s in await read())
    await launch("second")
    await eventually(held_by(read, "second"), START_SECONDS, "the second engine takes them")


async def _started(engine: EngineProcess) -> bool:
    return bool(engine.events("engine_started"))


async def _dropped(engine: EngineProcess, zones: set[str]) -> bool:
    return {r["zone"] for r in engine.events("zone_dropped")} >= zones
