"""The zone fence (``AsyncPersistenceLayer.fence``, set by ``kadath serve --cluster``): a unit
of work that changed a room's floor or containers asks it, in its own transaction, before the
commit; a refusal stores nothing of the unit of work and runs none of its callbacks."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from kadath.domain.errors import ZoneMoved
from kadath.domain.experience import EXPLORATION_XP
from kadath.domain.item import InInventory, OnFloor
from kadath.domain.world import Direction, World
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ExplorationRow
from kadath.services.clock import FakeClock
from kadath.services.entry import WorldEntry
from kadath.services.events import LocalEventBus
from kadath.services.lucidity import RestService
from kadath.services.messenger import FakeMessenger
from kadath.services.movement import MovementService
from kadath.services.presence import Presence

DOCK = OnFloor("harbour.dock")


class FakeFence:
    """Records the zones asked for; refuses those in ``refused``."""

    def __init__(self, *refused: str) -> None:
        self.refused = set(refused)
        self.asked: list[str] = []

    async def __call__(self, session: AsyncSession, zone: str) -> None:
        self.asked.append(zone)
        if zone in self.refused:
            raise ZoneMoved()


@pytest.fixture
def fenced(persistence: AsyncPersistenceLayer) -> Iterator[AsyncPersistenceLayer]:
    yield persistence
    persistence.fence = None


def zone_of(persistence: AsyncPersistenceLayer, room_id: str) -> str:
    return persistence.world.rooms[room_id].zone_id


async def test_a_write_to_a_floor_asks_the_fence_for_its_zone_and_commits_when_allowed(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    coin = await fenced.create_item("coin", DOCK)
    fence = FakeFence()
    fenced.fence = fence

    async with fenced.unit_of_work() as uow:
        await uow.containers.transfer_item(coin.id, DOCK, InInventory(player.id))

    assert fence.asked == [zone_of(fenced, DOCK.room_id)]
    assert await stored.place(coin.id) == InInventory(player.id)


async def test_a_refused_fence_stores_nothing_of_the_unit_of_work_and_runs_no_callback(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    coin = await fenced.create_item("coin", DOCK)
    fenced.fence = FakeFence(zone_of(fenced, DOCK.room_id))
    ran: list[str] = []

    async def callback() -> None:
        ran.append("ran")

    async def work() -> None:
        async with fenced.unit_of_work() as uow:
            await uow.health.damage_player(player, 30, "trap")
            await uow.containers.transfer_item(coin.id, DOCK, InInventory(player.id))
            uow.after_commit(callback)

    with pytest.raises(ZoneMoved, match="reorganising"):
        await work()

    assert ran == []
    assert await stored.place(coin.id) == DOCK
    assert await stored.health(player.id) == 100


async def test_a_unit_of_work_that_touches_no_room_does_not_ask_the_fence(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    fence = FakeFence(*fenced.world.zones)
    fenced.fence = fence

    async with fenced.unit_of_work() as uow:
        await uow.health.damage_player(player, 30, "trap")

    assert fence.asked == []
    assert await stored.health(player.id) == 70


async def test_every_zone_written_is_asked_once_in_zone_order(
    fenced: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player()
    rooms = {}
    for room in fenced.world.rooms.values():
        rooms.setdefault(room.zone_id, room.id)
    assert len(rooms) >= 2, "the test world needs two zones"
    coins = [await fenced.create_item("coin", InInventory(player.id)) for _ in rooms]
    fence = FakeFence()
    fenced.fence = fence

    async with fenced.unit_of_work() as uow:
        for coin, room_id in zip(coins, reversed(list(rooms.values())), strict=True):
            await uow.containers.transfer_item(coin.id, InInventory(player.id), OnFloor(room_id))

    assert fence.asked == sorted(rooms)


def two_zones(persistence: AsyncPersistenceLayer, avoid: str) -> tuple[str, str]:
    """A room of one zone and a room of another, neither of them ``avoid``."""
    rooms: dict[str, str] = {}
    for room in persistence.world.rooms.values():
        if room.id != avoid:
            rooms.setdefault(room.zone_id, room.id)
    assert len(rooms) >= 2, "the test world needs two zones"
    first, second = sorted(rooms)[:2]
    return rooms[first], rooms[second]


async def test_the_periodic_position_save_is_fenced_and_saves_only_zones_run_here(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    walker, wanderer = await save_player(), await save_player()
    here, elsewhere = two_zones(fenced, avoid=walker.room_id)
    presence = Presence()
    entry = WorldEntry(
        fenced.world, presence, FakeMessenger(), LocalEventBus(), fenced.unit_of_work
    )
    entry.runs_room = lambda room: room == here  # as ``HeldZones.runs_room`` with one zone
    for player in (walker, wanderer):
        presence.enter(player, set())
    presence.move(walker, here)
    presence.move(wanderer, elsewhere)  # walked into a zone held elsewhere: saved on leaving
    fence = FakeFence()
    fenced.fence = fence

    assert await entry.save_positions() == 1

    assert fence.asked == [zone_of(fenced, here)]
    assert (await stored.player(walker.id)).room_id == here
    assert (await stored.player(wanderer.id)).room_id != elsewhere
    assert [p.id for p in presence.take_dirty()] == [wanderer.id]


async def test_a_refused_position_save_stores_nothing_and_keeps_every_position_to_save(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    here, _ = two_zones(fenced, avoid=player.room_id)
    presence = Presence()
    entry = WorldEntry(
        fenced.world, presence, FakeMessenger(), LocalEventBus(), fenced.unit_of_work
    )
    presence.enter(player, set())
    presence.move(player, here)
    before = (await stored.player(player.id)).room_id
    fenced.fence = FakeFence(zone_of(fenced, here))

    with pytest.raises(ZoneMoved):
        await entry.save_positions()

    assert (await stored.player(player.id)).room_id == before != here
    assert [p.id for p in presence.take_dirty()] == [player.id]


def served_entry(persistence: AsyncPersistenceLayer, runs: set[str]) -> tuple[WorldEntry, Presence]:
    """A ``WorldEntry`` as ``serve --cluster`` wires it, running the rooms in ``runs``."""
    presence = Presence()
    entry = WorldEntry(
        persistence.world, presence, FakeMessenger(), LocalEventBus(), persistence.unit_of_work
    )
    entry.runs_room = presence.runs_room = lambda room: room in runs
    return entry, presence


async def test_a_handed_over_player_is_saved_fenced_by_the_zone_it_was_served_in(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    here, elsewhere = two_zones(fenced, avoid="")
    player = await save_player(room_id=here)
    entry, presence = served_entry(fenced, runs={here})
    presence.enter(player, set())
    presence.move(player, elsewhere)  # walked into a zone held elsewhere: a hand-over
    fence = FakeFence(zone_of(fenced, elsewhere))  # not held here: asking it would refuse
    fenced.fence = fence

    await entry.leave(player.id)

    assert fence.asked == [zone_of(fenced, here)]
    assert (await stored.player(player.id)).room_id == elsewhere


async def test_a_refused_leave_save_stores_nothing_logs_it_and_takes_the_player_out_of_play(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    here, there = two_zones(fenced, avoid="")
    player = await save_player(room_id=here)
    entry, presence = served_entry(fenced, runs={here, there})
    presence.enter(player, set())
    presence.move(player, there)  # served in ``there`` from now on
    fenced.fence = FakeFence(zone_of(fenced, there))  # a newer holder of it is recorded

    with capture_logs() as logs:
        await entry.leave(player.id)  # the new holder's state stands: nothing raised

    assert (await stored.player(player.id)).room_id == here
    assert player.id not in presence
    fenced_saves = [e for e in logs if e["event"] == "leave_save_fenced"]
    assert [e["zone"] for e in fenced_saves] == [zone_of(fenced, there)]


async def test_the_shutdown_save_skips_only_the_zones_refused(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    here, there = two_zones(fenced, avoid="")
    kept, lost = await save_player(room_id=here), await save_player(room_id=there)
    entry, presence = served_entry(fenced, runs={here, there})
    for player in (kept, lost):
        presence.enter(player, set())
        player.extra = {"note": "changed in play"}
    fence = FakeFence(zone_of(fenced, there))
    fenced.fence = fence

    assert await entry.leave_all() == 2

    assert sorted(fence.asked) == sorted({zone_of(fenced, here), zone_of(fenced, there)})
    assert (await stored.player(kept.id)).extra == {"note": "changed in play"}
    assert (await stored.player(lost.id)).extra != {"note": "changed in play"}
    assert len(presence) == 0


# -- health, lucidity and experience of a character standing in a zone ------------------------

VITALS = {
    "damage": lambda p, player: p.damage_player(player, 30, "trap"),
    "heal": lambda p, player: p.heal_player(player, 5),
    "health_delta": lambda p, player: p.update_player_health(player.id, -30, "trap"),
    "experience": lambda p, player: p.gain_experience(player, 50, "quest"),
    "lucidity": lambda p, player: p.update_player_stat_field(player.id, "lucidity", -7, "x"),
}


def vitals(row: Any) -> tuple[int, int, int]:
    return (row.health, row.lucidity, row.experience)


@pytest.mark.parametrize("write", sorted(VITALS))
async def test_a_lone_vitals_write_is_fenced_by_the_zone_the_player_stands_in(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any, write: str
) -> None:
    player = await save_player(health=90)
    before = vitals(await stored.player(player.id))
    fence = FakeFence()
    fenced.fence = fence

    await VITALS[write](fenced, player)

    assert fence.asked == [zone_of(fenced, player.room_id)]
    assert vitals(await stored.player(player.id)) != before


@pytest.mark.parametrize("write", sorted(VITALS))
async def test_a_refused_lone_vitals_write_stores_nothing(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any, write: str
) -> None:
    player = await save_player(health=90)
    before = vitals(await stored.player(player.id))
    fenced.fence = FakeFence(zone_of(fenced, player.room_id))

    with pytest.raises(ZoneMoved):
        await VITALS[write](fenced, player)

    assert vitals(await stored.player(player.id)) == before


async def test_lone_vitals_writes_still_coalesce_when_no_fence_is_set(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    players = [await save_player(health=90) for _ in range(3)]
    statements = persistence.health_deltas.statements

    await asyncio.gather(*(persistence.damage_player(p, 1, "trap") for p in players))

    assert persistence.health_deltas.statements == statements + 1


@pytest.mark.parametrize("refused", [False, True])
async def test_resting_is_fenced_by_the_zone_the_player_rests_in(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any, refused: bool
) -> None:
    safe = next(r.id for r in fenced.world.rooms.values() if r.safe)
    player = await save_player(room_id=safe, lucidity=50)
    rest = RestService(
        fenced.world, fenced.unit_of_work, FakeMessenger(), FakeClock(), lambda _id: False
    )
    zone = zone_of(fenced, safe)
    fence = FakeFence(*([zone] if refused else []))
    fenced.fence = fence

    if refused:
        with pytest.raises(ZoneMoved):
            await rest.rest(player)
    else:
        await rest.rest(player)

    assert fence.asked == [zone]
    assert (await stored.player(player.id)).lucidity == player.lucidity == (50 if refused else 55)


# -- a walk's first visit and a gnawing room's lucidity ----------------------------------------

SQUARE, STREET, DOCK_ROOM = "town.square", "town.street", "harbour.dock"


def cluster_walking(
    persistence: AsyncPersistenceLayer, world: World, runs: set[str]
) -> tuple[MovementService, Presence]:
    """Walking as ``serve --cluster`` wires it (``bootstrap``): no coalesced writer of visits
    (each walk's writes are a unit of work of their own), and ``Presence`` tracking the room
    each character was served in, running the rooms in ``runs``."""
    presence = Presence()
    presence.runs_room = lambda room: room in runs
    movement = MovementService(
        world, presence, FakeMessenger(), LocalEventBus(), persistence.unit_of_work
    )
    return movement, presence


def gnawing_street(world: World, cost: int = 7) -> World:
    street = dataclasses.replace(world.rooms[STREET], lucidity_cost=cost)
    return dataclasses.replace(world, rooms={**world.rooms, STREET: street})


@pytest.mark.parametrize("refused", [False, True])
async def test_a_first_visit_is_fenced_by_the_zone_the_walker_is_served_in(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any, refused: bool
) -> None:
    walker = await save_player(room_id=SQUARE)
    movement, presence = cluster_walking(fenced, fenced.world, runs={SQUARE, STREET})
    presence.enter(walker, {SQUARE})
    zone = zone_of(fenced, STREET)
    fence = FakeFence(*([zone] if refused else []))
    fenced.fence = fence

    if refused:
        with pytest.raises(ZoneMoved):
            await movement.go(walker, Direction.EAST)
    else:
        await movement.go(walker, Direction.EAST)

    assert fence.asked == [zone]
    paid = 0 if refused else EXPLORATION_XP
    assert walker.experience == (await stored.player(walker.id)).experience == paid
    visits = await stored.count(ExplorationRow, ExplorationRow.room_id == STREET)
    assert visits == (0 if refused else 1)
    assert (STREET in presence.explored(walker.id)) == (not refused)


async def test_a_first_visit_into_a_zone_held_elsewhere_is_fenced_by_the_zone_walked_from(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    walker = await save_player(room_id=STREET)
    movement, presence = cluster_walking(fenced, fenced.world, runs={SQUARE, STREET})
    presence.enter(walker, {STREET})
    fence = FakeFence(zone_of(fenced, DOCK_ROOM))  # not held here: asking it would refuse
    fenced.fence = fence

    await movement.go(walker, Direction.EAST)  # a hand-over follows

    assert fence.asked == [zone_of(fenced, STREET)]
    assert walker.experience == (await stored.player(walker.id)).experience == EXPLORATION_XP


@pytest.mark.parametrize("visited", [True, False])
@pytest.mark.parametrize("refused", [False, True])
async def test_a_gnawing_rooms_lucidity_is_fenced_by_the_zone_the_walker_is_served_in(
    fenced: AsyncPersistenceLayer, stored: Any, save_player: Any, refused: bool, visited: bool
) -> None:
    walker = await save_player(room_id=SQUARE, lucidity=50)
    world = gnawing_street(fenced.world)
    movement, presence = cluster_walking(fenced, world, runs={SQUARE, STREET})
    presence.enter(walker, {SQUARE, STREET} if visited else {SQUARE})
    zone = zone_of(fenced, STREET)
    fence = FakeFence(*([zone] if refused else []))
    fenced.fence = fence

    if refused:
        with pytest.raises(ZoneMoved):
            await movement.go(walker, Direction.EAST)
    else:
        await movement.go(walker, Direction.EAST)

    assert fence.asked == [zone]
    row = await stored.player(walker.id)
    assert walker.lucidity == row.lucidity == (50 if refused else 43)
    paid = 0 if refused or visited else EXPLORATION_XP
    assert walker.experience == row.experience == paid
