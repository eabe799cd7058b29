"""Entering and leaving the world against a real database: what a logout writes, and when.

Logout writes only the lazily-written columns (room, last active, extra): a blow committed
while the save waits is kept, and a value memory holds but no transaction committed is not
written. A character stored at health 0 is given its death on entry."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from kadath.domain.corpse import CorpseRules
from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.events import PlayerLoggedOut
from kadath.domain.item import InContainer, InInventory
from kadath.domain.player import Player
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import PlayerRow
from kadath.services.burial import Undertaker
from kadath.services.clock import FakeClock
from kadath.services.entry import WorldEntry
from kadath.services.events import LocalEventBus
from kadath.services.messenger import FakeMessenger
from kadath.services.presence import Presence

STREET, SQUARE = "town.street", "town.square"
RULES = CorpseRules(owner_grace_seconds=120, decay_seconds=900)


def build_entry(persistence: AsyncPersistenceLayer) -> tuple[WorldEntry, Presence, LocalEventBus]:
    presence, bus = Presence(), LocalEventBus()
    entry = WorldEntry(
        persistence.world,
        presence,
        FakeMessenger(),
        bus,
        persistence.unit_of_work,
        Undertaker(RULES, FakeClock()),
    )
    return entry, presence, bus


@contextlib.asynccontextmanager
async def blow_in_flight(
    persistence: AsyncPersistenceLayer, player_id: uuid.UUID, damage: int
) -> AsyncIterator[None]:
    """An uncommitted blow holding the character's row (and SQLite's write lock); it commits
    when the block exits."""
    async with persistence.engine.begin() as conn:
        await conn.execute(
            sa.update(PlayerRow)
            .where(PlayerRow.id == player_id)
            .values(health=PlayerRow.health - damage)
        )
        yield


async def test_a_blow_committed_while_the_logout_save_waits_is_kept(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, _presence, _bus = build_entry(persistence)
    alice: Player = await save_player(health=100, max_health=100)
    await entry.enter(alice.id)

    async with blow_in_flight(persistence, alice.id, 30):
        leaving = asyncio.create_task(entry.leave(alice.id))
        await asyncio.sleep(0.2)  # the save is now waiting for the row
    await leaving

    assert await stored.health(alice.id) == 70


async def test_logout_never_writes_a_value_no_transaction_committed(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, _presence, _bus = build_entry(persistence)
    alice: Player = await save_player(health=100, max_health=100, lucidity=90)
    online = await entry.enter(alice.id)
    # What a rolled-back transaction could have left in memory:
    online.health, online.lucidity, online.experience, online.level = 1, 2, 999, 7
    online.room_id, online.extra = "harbour.dock", {"title": "the Lost"}

    await entry.leave(alice.id)

    row = await stored.player(alice.id)
    assert (row.health, row.lucidity, row.experience, row.level) == (100, 90, 0, 1)
    assert (row.room_id, row.extra) == ("harbour.dock", {"title": "the Lost"})


async def test_shutdown_writes_only_the_lazy_columns_and_revives_nobody(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, _presence, _bus = build_entry(persistence)
    alice: Player = await save_player(health=100, max_health=100)
    bob: Player = await save_player(health=100, max_health=100)
    for player in (alice, bob):
        (await entry.enter(player.id)).health = 5
    await persistence.delete_player(bob.id)

    assert await entry.leave_all() == 2

    assert await stored.health(alice.id) == 100
    assert await stored.player(bob.id) is None  # an UPDATE, never an insert


async def test_a_shutdown_save_that_fails_keeps_everyone_in_play_for_the_next_try(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, presence, _bus = build_entry(persistence)
    alice: Player = await save_player(room_id=STREET)
    (await entry.enter(alice.id)).room_id = SQUARE  # moved since the last position save

    def database_gone(point: str) -> None:
        raise DatabaseUnavailable(f"no database at {point}")

    persistence.fault = database_gone
    try:
        with pytest.raises(DatabaseUnavailable):
            await entry.leave_all(attempts=2)
    finally:
        persistence.fault = None

    assert alice.id in presence  # not dropped unsaved: the lifespan's last save tries again
    assert await entry.leave_all() == 1
    assert alice.id not in presence
    assert (await stored.player(alice.id)).room_id == SQUARE


async def test_logged_out_is_published_when_the_character_leaves_not_after_the_save(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    entry, _presence, bus = build_entry(persistence)
    alice: Player = await save_player()
    await entry.enter(alice.id)
    logged_out = asyncio.Event()
    bus.subscribe(PlayerLoggedOut, lambda _event: logged_out.set())

    async with blow_in_flight(persistence, alice.id, 1):
        leaving = asyncio.create_task(entry.leave(alice.id))
        await asyncio.wait_for(logged_out.wait(), 5)  # while the save still waits
    await leaving


async def test_a_character_stored_at_health_zero_dies_on_entry(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, _presence, _bus = build_entry(persistence)
    alice: Player = await save_player(room_id=STREET, respawn_room_id=SQUARE, health=0)
    lantern = await persistence.create_item("lantern", InInventory(alice.id))

    online = await entry.enter(alice.id)

    assert (online.health, online.room_id) == (100, SQUARE)
    row = await stored.player(alice.id)
    assert (row.health, row.room_id) == (100, SQUARE)
    place = await stored.place(lantern.id)
    assert isinstance(place, InContainer)
    corpse = await persistence.get_container(place.container_id)
    assert (corpse.room_id, corpse.owner_player_id) == (STREET, alice.id)


async def test_start_up_gives_every_character_left_at_health_zero_its_death(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, _presence, _bus = build_entry(persistence)
    fallen = [await save_player(room_id=STREET, respawn_room_id=SQUARE, health=0) for _ in "ab"]
    standing: Player = await save_player(room_id=STREET, health=40)

    assert await entry.bury_the_fallen() == 2

    for player in fallen:
        row = await stored.player(player.id)
        assert (row.health, row.room_id) == (100, SQUARE)
    row = await stored.player(standing.id)
    assert (row.health, row.room_id) == (40, STREET)


async def test_a_copy_loaded_on_another_process_wins_and_the_stale_copy_saves_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    """Two processes of a cluster (two entries claiming): the second load of a character
    claims it; the first copy's periodic position save and its save on leaving are refused,
    what the second stored stands."""
    first, first_presence, _ = build_entry(persistence)
    second, _, _ = build_entry(persistence)
    first.claims, second.claims = {}, {}
    alice: Player = await save_player()
    stale = await first.enter(alice.id)
    current = await second.enter(alice.id)
    assert current is not stale

    current.room_id, current.extra = SQUARE, {"title": "the Found"}
    await second.leave(alice.id)
    stale.room_id, stale.extra = STREET, {"title": "the Stale"}
    first_presence.mark_dirty(alice.id)
    assert await first.save_positions() == 1  # written to no row
    await first.leave(alice.id)

    row = await stored.player(alice.id)
    assert (row.room_id, row.extra) == (SQUARE, {"title": "the Found"})


async def test_one_process_claims_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    entry, _presence, _bus = build_entry(persistence)
    alice: Player = await save_player()
    online = await entry.enter(alice.id)
    online.room_id = SQUARE
    await entry.leave(alice.id)
    row = await stored.player(alice.id)
    assert (row.room_id, row.play_claim) == (SQUARE, 0)
