"""Walking against a real database: a first visit's experience and a room's lucidity cost reach
memory only once their unit of work has committed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.experience import EXPLORATION_XP
from kadath.domain.player import Player
from kadath.domain.world import Direction, World
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ExplorationRow
from kadath.services.events import LocalEventBus
from kadath.services.messenger import FakeMessenger
from kadath.services.movement import MovementService
from kadath.services.presence import Presence

SQUARE, STREET = "town.square", "town.street"


def gnawing(world: World) -> World:
    """The small world with a street that costs lucidity."""
    street = dataclasses.replace(world.rooms[STREET], lucidity_cost=7)
    return dataclasses.replace(world, rooms={**world.rooms, STREET: street})


async def test_a_failure_at_any_point_of_a_first_visit_leaves_memory_equal_to_the_database(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    world = gnawing(small_world)
    for fail_at in itertools.count(1):
        faults.arm(0)
        presence, messenger = Presence(), FakeMessenger()
        movement = MovementService(
            world, presence, messenger, LocalEventBus(), persistence.unit_of_work
        )
        walker: Player = await save_player(room_id=SQUARE, lucidity=90)
        presence.enter(walker, explored={SQUARE})
        faults.arm(fail_at)
        with contextlib.suppress(DatabaseUnavailable):
            await movement.go(walker, Direction.EAST)
        interrupted = faults.failed
        faults.arm(0)

        row = await stored.player(walker.id)
        assert (walker.experience, walker.level, walker.lucidity, walker.health) == (
            row.experience,
            row.level,
            row.lucidity,
            row.health,
        )
        gnawed = any("gnaws" in t for t in messenger.texts_for("player"))
        assert gnawed == (row.lucidity < 90)
        if not interrupted:
            assert (row.experience, row.lucidity) == (EXPLORATION_XP, 83)
            break


# -- first visits written in groups (persistence.first_visits) --------------------------------


def walking(persistence: AsyncPersistenceLayer, world: World) -> tuple[MovementService, Any]:
    presence, messenger = Presence(), FakeMessenger()
    movement = MovementService(
        world,
        presence,
        messenger,
        LocalEventBus(),
        persistence.unit_of_work,
        persistence.first_visits,
    )
    return movement, messenger


async def test_a_crowds_first_visits_are_one_transaction_and_each_walker_is_paid_once(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    movement, _ = walking(persistence, small_world)
    walkers: list[Player] = [await save_player(room_id=SQUARE) for _ in range(30)]
    for walker in walkers:
        movement._presence.enter(walker, explored={SQUARE})
    begun: list[object] = []

    def count(conn: Any) -> None:
        begun.append(conn)

    for engine in persistence.engines:
        sa.event.listen(engine.sync_engine, "begin", count)
    try:
        await asyncio.gather(*(movement.go(w, Direction.EAST) for w in walkers))
    finally:
        for engine in persistence.engines:
            sa.event.remove(engine.sync_engine, "begin", count)

    assert len(begun) == 1  # thirty first visits, one transaction
    for walker in walkers:
        row = await stored.player(walker.id)
        assert walker.experience == row.experience == EXPLORATION_XP
        assert STREET in movement._presence.explored(walker.id)
    assert await stored.count(ExplorationRow, ExplorationRow.room_id == STREET) == 30

    # Back and forth: nothing more is written or paid.
    await asyncio.gather(*(movement.go(w, Direction.WEST) for w in walkers))
    await asyncio.gather(*(movement.go(w, Direction.EAST) for w in walkers))
    assert {(await stored.player(w.id)).experience for w in walkers} == {EXPLORATION_XP}


async def test_a_room_stored_as_visited_pays_nothing_again(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    walker: Player = await save_player(room_id=SQUARE)
    assert await persistence.first_visits.record(walker, STREET, EXPLORATION_XP) is not None
    movement, _ = walking(persistence, small_world)
    movement._presence.enter(walker, explored={SQUARE})  # memory does not know of it

    await movement.go(walker, Direction.EAST)

    assert (await stored.player(walker.id)).experience == EXPLORATION_XP
    assert walker.experience == 0  # the first record was a bare call: memory was not told


async def test_a_failure_at_any_point_of_a_grouped_first_visit_leaves_memory_equal_to_the_database(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    for fail_at in itertools.count(1):
        faults.arm(0)
        movement, _ = walking(persistence, small_world)
        walkers: list[Player] = [await save_player(room_id=SQUARE) for _ in range(3)]
        for walker in walkers:
            movement._presence.enter(walker, explored={SQUARE})
        faults.arm(fail_at)
        results = await asyncio.gather(
            *(movement.go(w, Direction.EAST) for w in walkers), return_exceptions=True
        )
        interrupted = faults.failed
        faults.arm(0)

        for walker, result in zip(walkers, results, strict=True):
            row = await stored.player(walker.id)
            assert (walker.experience, walker.level) == (row.experience, row.level)
            assert isinstance(result, DatabaseUnavailable) == interrupted
            assert (STREET in movement._presence.explored(walker.id)) != interrupted
            stored_visit = await stored.count(
                ExplorationRow,
                ExplorationRow.player_id == walker.id,
                ExplorationRow.room_id == STREET,
            )
            assert stored_visit == (0 if interrupted else 1)
        if not interrupted:
            assert {w.experience for w in walkers} == {EXPLORATION_XP}
            break
    assert fail_at == 4  # the insert, the experience, the commit: each failed in turn


async def test_the_same_first_visit_twice_in_one_group_is_paid_once(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any
) -> None:
    walker: Player = await save_player(room_id=SQUARE)

    first, again = await asyncio.gather(
        persistence.first_visits.record(walker, STREET, EXPLORATION_XP),
        persistence.first_visits.record(walker, STREET, EXPLORATION_XP),
    )

    assert first is not None and first.experience == EXPLORATION_XP
    assert again is None
    assert (await stored.player(walker.id)).experience == EXPLORATION_XP


# -- a gnawing room visited before: one statement, no unit of work ----------------------------


async def test_a_gnawing_room_visited_before_costs_lucidity_without_an_orm_session(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    movement, messenger = walking(persistence, gnawing(small_world))
    walker: Player = await save_player(room_id=SQUARE, lucidity=90)
    movement._presence.enter(walker, explored={SQUARE, STREET})
    sessions: list[object] = []

    def count(session: Any, *_args: Any) -> None:
        sessions.append(session)

    sa.event.listen(Session, "after_begin", count)
    try:
        await movement.go(walker, Direction.EAST)
    finally:
        sa.event.remove(Session, "after_begin", count)

    assert sessions == []  # a Core statement on a pooled connection
    assert walker.lucidity == (await stored.player(walker.id)).lucidity == 83
    assert any("gnaws" in t for t in messenger.texts_for("player"))


async def test_a_failed_lucidity_cost_of_a_room_visited_before_leaves_memory_as_it_was(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    movement, messenger = walking(persistence, gnawing(small_world))
    walker: Player = await save_player(room_id=SQUARE, lucidity=90)
    movement._presence.enter(walker, explored={SQUARE, STREET})
    faults.arm(1)

    with pytest.raises(DatabaseUnavailable):
        await movement.go(walker, Direction.EAST)

    faults.arm(0)
    assert walker.lucidity == (await stored.player(walker.id)).lucidity == 90
    assert not any("gnaws" in t for t in messenger.texts_for("player"))


async def test_a_crowds_lucidity_costs_are_one_statement_and_each_walker_pays_its_own(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    movement, _ = walking(persistence, gnawing(small_world))
    walkers: list[Player] = [await save_player(room_id=SQUARE, lucidity=50 + n) for n in range(20)]
    for walker in walkers:
        movement._presence.enter(walker, explored={SQUARE, STREET})
    before = persistence.first_visits.gnaw_statements

    await asyncio.gather(*(movement.go(w, Direction.EAST) for w in walkers))

    assert persistence.first_visits.gnaw_statements == before + 1  # twenty costs, one update
    for n, walker in enumerate(walkers):
        assert walker.lucidity == (await stored.player(walker.id)).lucidity == 43 + n


async def test_two_lucidity_costs_of_one_character_at_once_stop_at_zero(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any
) -> None:
    walker: Player = await save_player(room_id=SQUARE, lucidity=10)

    first, second = await asyncio.gather(
        persistence.first_visits.gnaw(walker.id, 7), persistence.first_visits.gnaw(walker.id, 7)
    )

    assert first == second == (await stored.player(walker.id)).lucidity == 0
