"""The zone lease manager against a real NATS server (JetStream KV) and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from kadath_cluster import (
    LEASE_SECONDS,
    RENEW_SECONDS,
    SLACK_SECONDS,
    PrivateNats,
    cluster_config,
    eventually,
)
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kadath.cluster.errors import ClusterError, Fenced, NotHeld
from kadath.cluster.fencing import Claim, confirm, fence, fenced_touch, recorded_leases
from kadath.cluster.leases import (
    LeaseValue,
    ZoneLeaseManager,
    close,
    connect,
    open_bucket,
    open_pins,
    zone_key,
)
from kadath.cluster.zones import move, zone_statuses
from kadath.domain.item import ContainerKind
from kadath.persistence.engine import create_engine
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ContainerRow
from kadath.world import DEFAULT_WORLD_DIR, load_world

pytestmark = pytest.mark.postgres
Join = Callable[[str], Awaitable["Member"]]
ROOM = next(iter(load_world(DEFAULT_WORLD_DIR).rooms))


@dataclass
class Member:
    """One engine's lease manager, its NATS connection, and the zones it was told it lost."""

    manager: ZoneLeaseManager
    nc: Client
    lost: list[tuple[str, int, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
async def database(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4, max_overflow=4)
    yield engine
    await engine.dispose()


@pytest.fixture
async def join(
    database: AsyncEngine, database_url: str, nats_server: PrivateNats
) -> AsyncIterator[Join]:
    """``await join(name)``: a lease manager for engine ``name`` on the test's NATS server."""
    members: list[Member] = []

    async def make(name: str) -> Member:
        config = cluster_config(database_url, nats_server.url, name)
        nc = await connect(config, name)
        kv = await open_bucket(nc, config)
        lost: list[tuple[str, int, str]] = []

        async def on_lost(zone: str, epoch: int, reason: str) -> None:
            lost.append((zone, epoch, reason))

        manager = ZoneLeaseManager(
            kv,
            owner=name,
            lease_seconds=LEASE_SECONDS,
            renew_seconds=RENEW_SECONDS,
            confirm=functools.partial(confirm, database),
            on_lost=on_lost,
            pins=await open_pins(nc, config),
        )
        member = Member(manager, nc, lost)
        members.append(member)
        return member

    yield make
    for member in members:
        await close(member.nc)  # the server may be stopped


def unique_zones(count: int) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"z{tag}_{i}" for i in range(count)]


async def test_two_managers_racing_for_each_zone_exactly_one_wins(
    join: Join, database: AsyncEngine
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    zones = unique_zones(12)

    results = await asyncio.gather(*(m.manager.acquire(zone) for zone in zones for m in (a, b)))

    recorded = await recorded_leases(database)
    for i, zone in enumerate(zones):
        won_a, won_b = results[2 * i], results[2 * i + 1]
        assert (won_a is None) != (won_b is None), zone
        winner, lease = (a, won_a) if won_a is not None else (b, won_b)
        assert lease is not None
        assert zone in winner.manager.held
        assert recorded[zone].owner == winner.manager.owner
        assert recorded[zone].epoch == lease.epoch
    assert set(a.manager.held) | set(b.manager.held) == set(zones)
    assert not set(a.manager.held) & set(b.manager.held)


async def test_renewal_keeps_the_zone_for_many_lease_periods(
    join: Join,
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    [zone] = unique_zones(1)
    lease = await a.manager.acquire(zone)
    assert lease is not None
    stop = asyncio.Event()
    runner = asyncio.create_task(a.manager.run(lambda: [zone], stop))
    try:
        # Two whole lease periods: without renewal the key would have lapsed after one.
        loop = asyncio.get_running_loop()
        until = loop.time() + 2 * LEASE_SECONDS
        while loop.time() < until:
            assert await b.manager.acquire(zone) is None
            await asyncio.sleep(RENEW_SECONDS / 2)
    finally:
        stop.set()
        await runner
    held = a.manager.held[zone]
    assert held.epoch == lease.epoch
    assert held.revision > lease.revision  # it did renew
    assert a.lost == []


async def test_released_zone_is_free_at_once_and_the_next_epoch_is_newer(
    join: Join, database: AsyncEngine
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    [zone] = unique_zones(1)
    first = await a.manager.acquire(zone)
    assert first is not None

    await a.manager.release(zone)
    second = await b.manager.acquire(zone)

    assert second is not None
    assert second.epoch > first.epoch
    assert (await recorded_leases(database))[zone].owner == "engine-b"


async def test_an_unrenewed_lease_lapses_and_the_old_owner_is_fenced_and_drops_the_zone(
    join: Join, database: AsyncEngine
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    [zone] = unique_zones(1)
    old = await a.manager.acquire(zone)
    assert old is not None

    # engine-a stalls (never renews): the key lapses after the bucket's TTL, and b takes it.
    await eventually(
        lambda: _acquired(b.manager, zone),
        LEASE_SECONDS + SLACK_SECONDS,
        "the unrenewed lease lapses and another engine takes the zone",
    )
    new = b.manager.held[zone]
    assert new.epoch > old.epoch

    # A write of zone-owned state by the stale owner, in a unit of work that passes through the
    # fence, is refused: nothing of that unit of work is committed.
    layer = AsyncPersistenceLayer(database, load_world(DEFAULT_WORLD_DIR))
    containers = await _count(database, ContainerRow)
    with pytest.raises(Fenced) as refused:
        await _write_zone_state(layer, Claim(zone, "engine-a", old.epoch))
    assert await _count(database, ContainerRow) == containers
    await _write_zone_state(layer, Claim(zone, "engine-b", new.epoch))  # the owner's may
    assert await _count(database, ContainerRow) == containers + 1
    assert refused.value.recorded == new.epoch
    recorded = await recorded_leases(database)
    assert (recorded[zone].owner, recorded[zone].epoch) == ("engine-b", new.epoch)

    # Its next renewal meets the fence first: it drops the zone and says so.
    assert await a.manager.renew(zone) is False
    assert zone not in a.manager.held
    assert a.lost == [(zone, old.epoch, "fenced")]


async def _write_zone_state(layer: AsyncPersistenceLayer, claim: Claim) -> None:
    """Zone-owned state (a crate left in a room), committed only if the claim is not fenced."""
    async with layer.unit_of_work() as uow:
        await uow.containers.create_container(
            kind=ContainerKind.ENVIRONMENT, name="a crate", capacity=1, room_id=ROOM
        )
        await fence(uow.session, claim)


async def _count(database: AsyncEngine, model: type[ContainerRow]) -> int:
    async with database.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def _acquired(manager: ZoneLeaseManager, zone: str) -> bool:
    return await manager.acquire(zone) is not None


async def test_a_lease_taken_over_in_nats_alone_is_dropped_on_renewal(
    join: Join,
) -> None:
    """The compare-and-swap alone also catches a takeover (the fence not yet moved)."""
    a = await join("engine-a")
    [zone] = unique_zones(1)
    lease = await a.manager.acquire(zone)
    assert lease is not None
    # Someone else's write to the key (an operator's purge and a new holder, say).
    kv = await open_bucket(a.nc, cluster_config("", "", "x"))
    await kv.delete(zone_key(zone))
    await kv.create(zone_key(zone), b'{"owner": "intruder", "epoch": null}')

    assert await a.manager.renew(zone) is False
    assert a.lost == [(zone, lease.epoch, "taken")]


async def test_the_fence_holds_a_new_owner_back_until_the_old_owners_write_commits(
    database: AsyncEngine,
) -> None:
    [zone] = unique_zones(1)
    await fenced_touch(database, Claim(zone, "old", 10))
    async with AsyncSession(database) as session, session.begin():
        await fence(session, Claim(zone, "old", 10))  # the old owner's write is in flight
        claim = asyncio.create_task(fenced_touch(database, Claim(zone, "new", 20)))
        await asyncio.sleep(0.5)
        assert not claim.done()  # waits on the row lock, whatever the machine's speed
    await claim  # and proceeds once the old owner's transaction is over

    with pytest.raises(Fenced):
        await fenced_touch(database, Claim(zone, "old", 10))
    recorded = (await recorded_leases(database))[zone]
    assert (recorded.owner, recorded.epoch) == ("new", 20)


async def test_managers_recover_from_a_nats_restart_without_restarting(
    join: Join, nats_server: PrivateNats
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    zones = unique_zones(4)
    assert await a.manager.acquire(zones[0]) is not None
    assert await b.manager.acquire(zones[1]) is not None
    stop = asyncio.Event()
    runners = [asyncio.create_task(m.manager.run(lambda: zones, stop)) for m in (a, b)]
    try:
        await eventually(lambda: _all_held(a, b, zones), SLACK_SECONDS, "all zones held")

        # A short outage, then one longer than the lease: both end with every zone held
        # once, by managers that were never restarted and still renew.
        for outage in (RENEW_SECONDS / 2, LEASE_SECONDS + 2 * RENEW_SECONDS):
            before = {z: r for m in (a, b) for z, r in _revisions(m).items()}
            epochs = {(z, lease.epoch) for m in (a, b) for z, lease in m.manager.held.items()}
            await nats_server.stop()
            await asyncio.sleep(outage)
            await nats_server.start()
            await eventually(
                lambda before=before: _all_held_and_renewed(a, b, zones, before),
                LEASE_SECONDS + SLACK_SECONDS,
                f"every zone held and renewed again after a {outage:g}s outage",
            )
        # The long outage outlived every lease: each of them was dropped (and its holder
        # told), and the zones were taken again under newer epochs.
        lost = {(zone, epoch) for m in (a, b) for zone, epoch, _ in m.lost}
        assert epochs <= lost
        assert all(
            lease.epoch > max(e for z, e in epochs if z == zone)
            for m in (a, b)
            for zone, lease in m.manager.held.items()
        )
    finally:
        stop.set()
        await asyncio.gather(*runners)
    kv = await open_bucket(a.nc, cluster_config("", "", "x"))
    for zone in zones:
        entry = await kv.get(zone_key(zone))
        holder = a if zone in a.manager.held else b
        assert entry.revision == holder.manager.held[zone].revision


def _revisions(member: Member) -> dict[str, int]:
    return {zone: lease.revision for zone, lease in member.manager.held.items()}


async def _all_held(a: Member, b: Member, zones: list[str]) -> bool:
    held_a, held_b = set(a.manager.held), set(b.manager.held)
    return held_a | held_b == set(zones) and not held_a & held_b


async def _all_held_and_renewed(
    a: Member, b: Member, zones: list[str], before: dict[str, int]
) -> bool:
    if not await _all_held(a, b, zones):
        return False
    now = {**_revisions(a), **_revisions(b)}
    return all(now[zone] > before.get(zone, 0) for zone in zones)


async def test_a_pinned_zone_moves_to_its_engine_and_stays_there(
    join: Join, database: AsyncEngine
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    zones = unique_zones(2)
    first = await a.manager.acquire(zones[0])
    assert first is not None
    stop = asyncio.Event()
    runners = [asyncio.create_task(m.manager.run(lambda: zones, stop)) for m in (a, b)]
    try:
        pins = await open_pins(a.nc, cluster_config("", "", "x"))
        await pins.put(zones[0], b"engine-b")
        await eventually(
            lambda: _holds(b, zones[0]), LEASE_SECONDS + SLACK_SECONDS, "engine-b holds it"
        )
        # A few more periods: engine-a never takes it back, and gave it up (no loss).
        for _ in range(3):
            await asyncio.sleep(RENEW_SECONDS)
            assert zones[0] not in a.manager.held
        await pins.delete(zones[0])
        await asyncio.sleep(2 * RENEW_SECONDS)
        assert zones[0] in b.manager.held  # unpinning moves nothing
    finally:
        stop.set()
        await asyncio.gather(*runners)
    assert a.lost == []
    recorded = (await recorded_leases(database))[zones[0]]
    assert recorded.owner == "engine-b"
    assert recorded.epoch > first.epoch


async def test_a_zone_a_pin_moves_away_is_stored_while_still_held_then_released(
    join: Join, nats_server: PrivateNats, database_url: str, database: AsyncEngine
) -> None:
    """Before giving up a zone pinned elsewhere, the engine is asked to store what it keeps of
    it in memory, while its lease (and so its fence) is still good."""
    nc = (await join("engine-a")).nc
    config = cluster_config(database_url, nats_server.url, "engine-a")
    kv = await open_bucket(nc, config)
    seen: list[tuple[str, bool]] = []

    async def store(zone: str) -> None:  # is the lease still there as it stores?
        seen.append((zone, zone in manager.held and await kv.get(zone_key(zone)) is not None))

    manager = ZoneLeaseManager(
        kv,
        owner="engine-a",
        lease_seconds=LEASE_SECONDS,
        renew_seconds=RENEW_SECONDS,
        confirm=functools.partial(confirm, database),
        pins=await open_pins(nc, config),
        before_release=store,
    )
    zones = unique_zones(2)
    for zone in zones:
        assert await manager.acquire(zone) is not None
    await (await open_pins(nc, config)).put(zones[0], b"engine-b")
    assert await manager.follow_pins(zones) == zones[1:]
    assert seen == [(zones[0], True)]
    assert sorted(manager.held) == zones[1:]
    with pytest.raises(KeyNotFoundError):
        await kv.get(zone_key(zones[0]))  # released after the store


async def _holds(member: Member, zone: str) -> bool:
    return zone in member.manager.held


async def test_a_renewal_that_landed_though_its_answer_was_lost_is_kept(
    join: Join,
) -> None:
    a = await join("engine-a")
    [zone] = unique_zones(1)
    lease = await a.manager.acquire(zone)
    assert lease is not None
    # engine-a's own renewal reached NATS, but the answer did not reach engine-a.
    kv = await open_bucket(a.nc, cluster_config("", "", "x"))
    landed = await kv.update(
        zone_key(zone), LeaseValue("engine-a", lease.epoch).encode(), last=lease.revision
    )

    assert await a.manager.renew(zone) is True

    assert a.manager.held[zone].epoch == lease.epoch
    assert a.manager.held[zone].revision == landed  # adopted
    assert await a.manager.renew(zone) is True  # and renewed from there
    assert a.manager.held[zone].revision > landed
    assert a.lost == []


async def test_renewals_failing_for_a_whole_lease_while_nats_is_down_drop_the_zone(
    join: Join, nats_server: PrivateNats
) -> None:
    a = await join("engine-a")
    [zone] = unique_zones(1)
    lease = await a.manager.acquire(zone)
    assert lease is not None
    await nats_server.stop()

    async def dropped() -> bool:
        return await a.manager.renew(zone) is False

    await eventually(dropped, LEASE_SECONDS + SLACK_SECONDS, "the zone is dropped")
    assert a.lost == [(zone, lease.epoch, "expired")]


async def test_a_claim_postgresql_does_not_take_gives_the_lease_back_at_once(
    join: Join,
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    [zone] = unique_zones(1)

    async def unreachable(claims: list[Claim]) -> set[str]:
        raise ConnectionRefusedError("PostgreSQL is down")

    kv = await open_bucket(a.nc, cluster_config("", "", "x"))
    cut_off = ZoneLeaseManager(
        kv, owner="cut-off", lease_seconds=LEASE_SECONDS, renew_seconds=RENEW_SECONDS,
        confirm=unreachable,
    )  # fmt: skip

    assert await cut_off.acquire(zone) is None
    assert await b.manager.acquire(zone) is not None  # no need to wait for a lapse


async def test_a_renewal_while_postgresql_is_away_keeps_the_lease_in_nats(
    join: Join,
) -> None:
    a = await join("engine-a")
    database_down = False

    async def flaky(claims: list[Claim]) -> set[str]:
        if database_down:
            raise ConnectionRefusedError("PostgreSQL is down")
        return set()

    kv = await open_bucket(a.nc, cluster_config("", "", "x"))
    manager = ZoneLeaseManager(
        kv, owner="engine-c", lease_seconds=LEASE_SECONDS, renew_seconds=RENEW_SECONDS,
        confirm=flaky,
    )  # fmt: skip
    [other] = unique_zones(1)
    held = await manager.acquire(other)
    assert held is not None
    database_down = True

    assert await manager.renew(other) is True
    assert manager.held[other].revision > held.revision


async def test_a_zone_write_fenced_off_by_a_newer_owner_is_refused_and_the_zone_dropped(
    join: Join, database: AsyncEngine
) -> None:
    a = await join("engine-a")
    zones = unique_zones(2)
    lease = await a.manager.acquire(zones[0])
    assert lease is not None
    layer = AsyncPersistenceLayer(database, load_world(DEFAULT_WORLD_DIR))
    containers = await _count(database, ContainerRow)
    await _guarded_write(layer, a.manager, zones[0])  # the holder's write commits
    assert await _count(database, ContainerRow) == containers + 1

    # A newer owner claims the zone (engine-a stalled and its lease lapsed, say).
    await fenced_touch(database, Claim(zones[0], "engine-b", lease.epoch + 100))

    with pytest.raises(Fenced):
        await _guarded_write(layer, a.manager, zones[0])
    assert await _count(database, ContainerRow) == containers + 1
    assert zones[0] not in a.manager.held
    assert a.lost == [(zones[0], lease.epoch, "fenced")]
    with pytest.raises(NotHeld):  # a zone it never held
        await _guarded_write(layer, a.manager, zones[1])


async def _guarded_write(
    layer: AsyncPersistenceLayer, manager: ZoneLeaseManager, zone: str
) -> None:
    async with layer.unit_of_work() as uow:
        await manager.fence(uow.session, zone)
        await uow.containers.create_container(
            kind=ContainerKind.ENVIRONMENT, name="a crate", capacity=1, room_id=ROOM
        )


async def test_move_hands_a_zone_to_the_named_engine_then_unpins_it(
    join: Join, database_url: str, nats_server: PrivateNats
) -> None:
    a, b = await join("engine-a"), await join("engine-b")
    [zone] = unique_zones(1)
    first = await a.manager.acquire(zone)
    assert first is not None
    config = cluster_config(database_url, nats_server.url, "operator")
    stop = asyncio.Event()
    runners = [asyncio.create_task(m.manager.run(lambda: [zone], stop)) for m in (a, b)]
    try:
        moved = await move(config, [zone], zone, "engine-b", LEASE_SECONDS + SLACK_SECONDS)
        assert (moved.owner, moved.recorded_owner) == ("engine-b", "engine-b")
        assert moved.epoch is not None and moved.epoch > first.epoch
        [status] = [s for s in await zone_statuses(config, [zone]) if s.zone == zone]
        assert status.pinned_to is None

        # To an engine that is not running: refused after the bound, the pin removed, and the
        # zone (given up for it meanwhile) is taken again by a running engine.
        with pytest.raises(ClusterError, match="did not take zone"):
            await move(config, [zone], zone, "ghost", 2 * RENEW_SECONDS)
        await eventually(
            lambda: _held_by_either(a, b, zone), LEASE_SECONDS + SLACK_SECONDS, "zone held again"
        )
    finally:
        stop.set()
        await asyncio.gather(*runners)
    assert a.lost == [] and b.lost == []


async def _held_by_either(a: Member, b: Member, zone: str) -> bool:
    return zone in a.manager.held or zone in b.manager.held


async def test_renew_all_confirms_every_zone_at_once_and_drops_only_the_fenced_one(
    join: Join, database: AsyncEngine
) -> None:
    a = await join("engine-a")
    zones = unique_zones(3)
    for zone in zones:
        assert await a.manager.acquire(zone) is not None
    before = a.manager.held
    fenced_zone = zones[1]
    newer = Claim(fenced_zone, "engine-b", before[fenced_zone].epoch + 100)
    assert await confirm(database, [newer]) == set()

    await a.manager.renew_all()

    assert set(a.manager.held) == set(zones) - {fenced_zone}
    for zone, lease in a.manager.held.items():
        assert lease.revision > before[zone].revision  # renewed in NATS
    assert a.lost == [(fenced_zone, before[fenced_zone].epoch, "fenced")]
    stale = [Claim(zone, "engine-a", lease.epoch) for zone, lease in before.items()]
    assert await confirm(database, stale) == {fenced_zone}
