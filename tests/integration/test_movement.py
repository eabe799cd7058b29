"""Walking against a real database: a first visit's experience and a room's lucidity cost reach
memory only once their unit of work has committed."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from typing import Any

from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.experience import EXPLORATION_XP
from kadath.domain.player import Player
from kadath.domain.world import Direction, World
from kadath.persistence.layer import AsyncPersistenceLayer
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
