"""The facade's lone deltas: Core statements on a pooled connection, no ORM session, and
concurrent health deltas coalesced into one statement, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kadath.domain.errors import DatabaseUnavailable, PlayerNotFound
from kadath.domain.player import Player
from kadath.persistence.layer import AsyncPersistenceLayer

N = 100


@pytest.fixture
def no_sessions(persistence: AsyncPersistenceLayer) -> list[object]:
    """Every ORM session the layer makes (cleared once the test's players are saved)."""
    made: list[object] = []
    factory = persistence._sessions

    def counting() -> Any:
        session = factory()
        made.append(session)
        return session

    persistence._sessions = counting  # type: ignore[assignment]
    return made


async def test_a_hundred_concurrent_blows_on_one_character_each_see_their_own_health(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any, no_sessions: list[object]
) -> None:
    alice: Player = await save_player(health=100)
    no_sessions.clear()
    before = persistence.health_deltas.statements

    healths = await asyncio.gather(
        *(persistence.damage_player(alice, 3, "combat") for _ in range(N))
    )

    # Each blow left 3 less than the one before, never below 0: none lost, and all of them
    # in one statement (the row locked, read, and updated once).
    assert healths == [max(0, 100 - 3 * k) for k in range(1, N + 1)]
    assert persistence.health_deltas.statements - before == 1
    assert await stored.health(alice.id) == 0
    assert alice.health == 100  # the caller's object is not changed
    assert no_sessions == []


async def test_concurrent_damage_and_healing_on_many_characters_lose_no_update(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any, no_sessions: list[object]
) -> None:
    players: list[Player] = [await save_player(health=50) for _ in range(10)]
    calls = [
        persistence.damage_player(p, 2, "trap") if i % 3 else persistence.heal_player(p, 1)
        for p in players
        for i in range(10)
    ]
    before = persistence.health_deltas.statements
    no_sessions.clear()

    await asyncio.gather(*calls)

    for player in players:
        # i = 0, 3, 6, 9 heal 1; the six others take 2
        assert await stored.health(player.id) == 50 - 2 * 6 + 4
    # coalesced: one statement per run of heals or blows (h dd h dd h dd h), not per call
    assert persistence.health_deltas.statements - before == 7
    assert no_sessions == []


async def test_interleaved_blows_and_heals_on_one_character_apply_in_call_order(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any
) -> None:
    alice: Player = await save_player(health=10)
    deltas = [-4, -4, -4, +30, +80, -50, -50, +5]

    healths = await asyncio.gather(
        *(persistence.update_player_health(alice.id, d, "test") for d in deltas)
    )

    expected, value = [], 10
    for delta in deltas:
        value = min(100, max(0, value + delta))
        expected.append(value)
    assert healths == expected == [6, 2, 0, 30, 100, 50, 0, 5]
    assert await stored.health(alice.id) == 5


async def test_health_deltas_stay_within_zero_and_max_health(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any
) -> None:
    alice: Player = await save_player(health=95)
    bob: Player = await save_player(health=5)

    healed, hurt = await asyncio.gather(
        persistence.heal_player(alice, 50), persistence.damage_player(bob, 50, "fall")
    )

    assert (healed, hurt) == (alice.max_health, 0)
    assert await stored.health(alice.id) == alice.max_health
    assert await stored.health(bob.id) == 0


async def test_an_unknown_character_fails_only_its_own_call(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any, make_player: Any
) -> None:
    alice: Player = await save_player(health=100)
    ghost: Player = make_player(_account_of(alice))  # never saved

    results = await asyncio.gather(
        persistence.damage_player(alice, 10, "trap"),
        persistence.damage_player(ghost, 10, "trap"),
        return_exceptions=True,
    )

    assert results[0] == 90
    assert isinstance(results[1], PlayerNotFound)
    assert await stored.health(alice.id) == 90


async def test_a_failed_batch_stores_none_of_its_deltas_and_fails_every_caller(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any, faults: Any
) -> None:
    players: list[Player] = [await save_player(health=100) for _ in range(5)]
    faults.arm(1)

    results = await asyncio.gather(
        *(persistence.damage_player(p, 10, "trap") for p in players), return_exceptions=True
    )

    assert all(isinstance(r, DatabaseUnavailable) for r in results)
    assert [await stored.health(p.id) for p in players] == [100] * 5
    faults.arm(0)
    assert await persistence.damage_player(players[0], 10, "trap") == 90  # the next one works


async def test_experience_and_stat_changes_need_no_session(
    persistence: AsyncPersistenceLayer, save_player: Any, stored: Any, no_sessions: list[object]
) -> None:
    alice: Player = await save_player(health=100)
    no_sessions.clear()

    gain = await persistence.gain_experience(alice, 40, "quest")
    lucidity = await persistence.update_player_stat_field(alice.id, "lucidity", -30, "horror")

    row = await stored.player(alice.id)
    assert (gain.experience, lucidity) == (row.experience, row.lucidity) == (40, 70)
    assert (alice.experience, alice.lucidity) == (0, 100)  # the caller's object is not changed
    assert no_sessions == []


def _account_of(player: Player) -> Any:
    class _Account:
        id = player.account_id

    return _Account()
