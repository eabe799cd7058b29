"""HealthRepository: clamped damage and healing as single statements, safe under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest

from kadath.domain.errors import InvalidAmount, InvalidInput, PlayerNotFound
from kadath.domain.player import MAX_AMOUNT
from kadath.persistence.layer import AsyncPersistenceLayer

BAD_AMOUNTS = [0, -1, -50, True, False, 1.5, 2.0, "3", None, MAX_AMOUNT + 1]


async def test_damage_takes_health_and_records_it(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=80, max_health=100)

    assert await persistence.damage_player(player, 30, "claw") == 50

    assert await stored.health(player.id) == 50


async def test_damage_and_healing_return_values_and_leave_the_callers_player_alone(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=80, max_health=100)

    async with persistence.unit_of_work() as uow:
        assert await uow.health.damage_player(player, 30, "claw") == 50
        assert await uow.health.heal_player(player, 10) == 60

    assert player.health == 80  # memory is the use case's to update, after the commit
    assert await stored.health(player.id) == 60


async def test_damage_never_takes_health_below_zero(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=10, max_health=100)

    assert await persistence.damage_player(player, 25, "fall") == 0
    assert await persistence.damage_player(player, MAX_AMOUNT, "fall") == 0

    assert await stored.health(player.id) == 0


async def test_healing_never_exceeds_max_health(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=90, max_health=100)

    assert await persistence.heal_player(player, 5) == 95
    assert await persistence.heal_player(player, 50) == 100
    assert await persistence.heal_player(player, MAX_AMOUNT) == 100

    assert await stored.health(player.id) == 100


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
async def test_damage_refuses_bad_amounts_and_writes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, amount: Any
) -> None:
    player = await save_player(health=50, max_health=100)
    with pytest.raises(InvalidAmount):
        await persistence.damage_player(player, amount, "combat")
    assert await stored.health(player.id) == 50
    assert player.health == 50


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
async def test_heal_refuses_bad_amounts_and_writes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, amount: Any
) -> None:
    player = await save_player(health=50, max_health=100)
    with pytest.raises(InvalidAmount):
        await persistence.heal_player(player, amount)
    assert await stored.health(player.id) == 50


@pytest.mark.parametrize("reason", ["", "x" * 65, None, 7])
async def test_damage_refuses_a_bad_damage_type_and_writes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, reason: Any
) -> None:
    player = await save_player(health=50, max_health=100)
    with pytest.raises(InvalidInput):
        await persistence.damage_player(player, 5, reason)
    assert await stored.health(player.id) == 50


async def test_damage_and_heal_refuse_an_unknown_player(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    real = await save_player(health=50)
    ghost = dataclasses.replace(real, id=uuid.uuid4())
    with pytest.raises(PlayerNotFound):
        await persistence.damage_player(ghost, 5, "combat")
    with pytest.raises(PlayerNotFound):
        await persistence.heal_player(ghost, 5)
    assert ghost.health == 50
    assert await stored.health(real.id) == 50


async def test_update_player_health_adds_a_signed_delta_with_clamping(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=50, max_health=100)

    assert await persistence.update_player_health(player.id, -20, "poison") == 30
    assert await persistence.update_player_health(player.id, 0, "nothing") == 30
    assert await persistence.update_player_health(player.id, 15, "potion") == 45
    assert await persistence.update_player_health(player.id, 500, "potion") == 100
    assert await persistence.update_player_health(player.id, -500, "lava") == 0

    assert await stored.health(player.id) == 0


@pytest.mark.parametrize("delta", [True, 1.5, "5", None, MAX_AMOUNT + 1, -MAX_AMOUNT - 1])
async def test_update_player_health_refuses_bad_deltas_and_writes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, delta: Any
) -> None:
    player = await save_player(health=50, max_health=100)
    with pytest.raises(InvalidAmount):
        await persistence.update_player_health(player.id, delta, "combat")
    assert await stored.health(player.id) == 50


async def test_update_player_health_refuses_a_bad_reason_or_unknown_player(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=50, max_health=100)
    with pytest.raises(InvalidInput):
        await persistence.update_player_health(player.id, -5, "")
    with pytest.raises(PlayerNotFound):
        await persistence.update_player_health(uuid.uuid4(), -5, "combat")
    assert await stored.health(player.id) == 50


@pytest.mark.parametrize(("wanted", "expected"), [(70, 70), (500, 100), (-5, 0), (0, 0)])
async def test_set_health_clamps_to_the_allowed_range(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, wanted: int, expected: int
) -> None:
    player = await save_player(health=50, max_health=100)
    async with persistence.unit_of_work() as uow:
        assert await uow.health.set_health(player.id, wanted) == expected
    assert await stored.health(player.id) == expected


async def test_set_health_refuses_an_unknown_player(persistence: AsyncPersistenceLayer) -> None:
    with pytest.raises(PlayerNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.health.set_health(uuid.uuid4(), 10)


async def test_a_hundred_concurrent_damages_on_one_player_lose_no_update(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=1000, max_health=1000)

    results = await asyncio.gather(
        *(persistence.damage_player(player, 7, "swarm") for _ in range(100))
    )

    assert await stored.health(player.id) == 300
    # Each call saw a distinct intermediate value: the updates were serialised, none lost.
    assert sorted(results) == list(range(300, 1000, 7))


async def test_a_hundred_concurrent_damages_never_take_health_below_zero(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100, max_health=100)

    results = await asyncio.gather(
        *(persistence.damage_player(player, 3, "swarm") for _ in range(100))
    )

    assert await stored.health(player.id) == 0
    assert results.count(0) == 100 - 33


async def test_a_hundred_concurrent_damages_across_a_hundred_players(
    persistence: AsyncPersistenceLayer,
    stored: Any,
    account: Any,
    make_player: Any,
) -> None:
    players = [make_player(account, health=100, max_health=100) for _ in range(100)]
    await persistence.save_players(players)

    await asyncio.gather(
        *(persistence.damage_player(p, 1 + i % 50, "storm") for i, p in enumerate(players))
    )

    for i, p in enumerate(players):
        assert await stored.health(p.id) == 100 - (1 + i % 50)


async def test_concurrent_healing_stops_at_max_health(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=10, max_health=100)

    await asyncio.gather(*(persistence.heal_player(player, 7) for _ in range(50)))

    assert await stored.health(player.id) == 100


async def test_concurrent_heals_and_damages_end_at_the_arithmetic_sum(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    # Start mid-way with room to spare on both sides, so no ordering ever clamps.
    player = await save_player(health=5000, max_health=10_000)
    calls = []
    for i in range(100):
        if i % 2:
            calls.append(persistence.heal_player(player, 13))
        else:
            calls.append(persistence.damage_player(player, 29, "mixed"))
    calls.extend(persistence.update_player_health(player.id, -4, "bleed") for _ in range(20))

    await asyncio.gather(*calls)

    assert await stored.health(player.id) == 5000 + 50 * 13 - 50 * 29 - 20 * 4
