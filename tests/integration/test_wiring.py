"""The composition root wires the features to each other: no lookup by name is left to fail
at run time, so these are the seams a typo in bootstrap would open."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kadath.bootstrap import _wire
from kadath.domain.account import Account, Role
from kadath.domain.events import PlayerEnteredRoom
from kadath.domain.npc import NpcInstance
from kadath.domain.world import NpcDefinition, NpcKind
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.services.auth import PasswordHasher
from kadath.settings import Settings
from kadath.web.runtime import Runtime

STREET = "town.street"
GHOUL = NpcDefinition(
    id="ghoul",
    name="a ghoul",
    description="Hungry.",
    keywords=("ghoul",),
    kind=NpcKind.AGGRESSIVE,
    level=1,
    health=10,
    stats={},
    xp_value=5,
    damage=(1, 2),
)


@pytest.fixture
async def runtime(persistence: AsyncPersistenceLayer, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(_env_file=None, data_dir=tmp_path, npc_spawning=False)  # type: ignore[call-arg]
    hasher = PasswordHasher(1, 1, 8)
    listeners = list(persistence.room_listeners)
    try:
        yield _wire(settings, persistence, hasher, "a-signing-secret-for-the-wiring-test-only")
    finally:
        persistence.room_listeners[:] = listeners
        hasher.close()


async def test_the_npc_brain_starts_fights_through_the_combat_service(
    runtime: Runtime, account: Account, make_player: Any
) -> None:
    game = runtime.game
    alice = make_player(account, "Alice", room_id=STREET)
    game.presence.enter(alice, {STREET})
    ghoul = NpcInstance(uuid.uuid4(), GHOUL, STREET, GHOUL.health)
    game.npcs.add(ghoul)

    await game.bus.publish(PlayerEnteredRoom(alice.id, STREET, None))

    assert runtime.combat.in_combat(alice.id)
    assert runtime.combat.in_combat(ghoul.id)


async def test_look_falls_back_on_the_items_examine(
    runtime: Runtime, account: Account, make_player: Any, persistence: AsyncPersistenceLayer
) -> None:
    alice = make_player(account, "Alice")  # in the square, where the world left a lantern
    await persistence.save_player(alice)
    runtime.game.presence.enter(alice, {alice.room_id})

    reply = await runtime.dispatcher.dispatch(alice, "look lantern")

    assert reply.ok, reply.text
    assert "Dented brass." in reply.text


async def test_the_admin_commands_reach_the_loop_and_death(
    runtime: Runtime, account: Account, make_player: Any, persistence: AsyncPersistenceLayer
) -> None:
    warden = make_player(account, "Warden", room_id=STREET, role=Role.ADMIN)
    await persistence.save_player(warden)
    runtime.game.presence.enter(warden, {STREET})
    runtime.game.npcs.add(NpcInstance(uuid.uuid4(), GHOUL, STREET, GHOUL.health))

    tick = await runtime.dispatcher.dispatch(warden, "tick")
    slay = await runtime.dispatcher.dispatch(warden, "slay ghoul")

    assert tick.text.startswith("Ticks: 0 at 10/s"), tick.text
    assert slay.text == "You strike down a ghoul.", slay.text
    assert len(runtime.game.npcs) == 0
