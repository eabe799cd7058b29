"""ExperienceRepository: XP gains with level-ups at the curve's thresholds, and stat changes."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import pytest

from kadath.domain.errors import InvalidAmount, InvalidInput, PlayerNotFound, UnknownStatField
from kadath.domain.experience import MAX_LEVEL, xp_for_level
from kadath.domain.player import MAX_AMOUNT
from kadath.domain.stats import STAT_NAMES, Stats, max_health_for
from kadath.persistence.layer import AsyncPersistenceLayer

STATS = Stats(12, 12, 14, 12, 12, 12)


@pytest.fixture
async def novice(save_player: Any) -> Any:
    """A level-1 player with 0 XP and the max health level 1 gives (half of it left)."""
    top = max_health_for(STATS, 1)
    return await save_player(stats=STATS, max_health=top, health=top // 2)


async def test_xp_below_the_next_threshold_adds_up_without_a_level(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    gain = await persistence.gain_experience(novice, xp_for_level(2) - 1, "rat")

    assert (gain.experience, gain.old_level, gain.level) == (99, 1, 1)
    assert not gain.leveled_up
    row = await stored.player(novice.id)
    assert (row.experience, row.level) == (99, 1)
    assert row.health == max_health_for(STATS, 1) // 2


async def test_crossing_a_threshold_levels_up_and_restores_health(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    await persistence.gain_experience(novice, 99, "rat")
    gain = await persistence.gain_experience(novice, 1, "rat")

    assert gain.leveled_up
    assert (gain.experience, gain.old_level, gain.level) == (xp_for_level(2), 1, 2)
    row = await stored.player(novice.id)
    assert (row.experience, row.level) == (100, 2)
    assert row.max_health == max_health_for(STATS, 2)
    assert row.health == row.max_health
    assert (gain.max_health, gain.health) == (row.max_health, row.health)


async def test_a_gain_returns_the_new_values_and_leaves_the_callers_player_alone(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    before = dataclasses.replace(novice)

    async with persistence.unit_of_work() as uow:
        gain = await uow.experience.gain_experience(novice, xp_for_level(3), "ghoul")

    assert novice == before  # memory is the use case's to update, after the commit
    row = await stored.player(novice.id)
    assert (gain.experience, gain.level, gain.max_health, gain.health) == (
        row.experience,
        row.level,
        row.max_health,
        row.health,
    )


async def test_one_large_gain_can_cross_several_thresholds(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    gain = await persistence.gain_experience(novice, xp_for_level(5) + 1, "shoggoth")

    assert (gain.old_level, gain.level) == (1, 5)
    row = await stored.player(novice.id)
    assert (row.experience, row.level) == (xp_for_level(5) + 1, 5)
    assert row.max_health == max_health_for(STATS, 5)


async def test_levels_stop_at_the_maximum(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    await persistence.gain_experience(novice, MAX_AMOUNT, "god")
    gain = await persistence.gain_experience(novice, MAX_AMOUNT, "god")

    assert gain.level == MAX_LEVEL
    assert not gain.leveled_up
    row = await stored.player(novice.id)
    assert (row.experience, row.level) == (2 * MAX_AMOUNT, MAX_LEVEL)
    assert row.max_health == max_health_for(STATS, MAX_LEVEL)


@pytest.mark.parametrize("amount", [0, -1, -100, True, 1.0, "10", None, MAX_AMOUNT + 1])
async def test_bad_xp_amounts_are_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any, amount: Any
) -> None:
    await persistence.gain_experience(novice, 50, "rat")
    with pytest.raises(InvalidAmount):
        await persistence.gain_experience(novice, amount, "rat")
    row = await stored.player(novice.id)
    assert (row.experience, row.level) == (50, 1)


async def test_a_bad_source_or_unknown_player_is_refused(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    with pytest.raises(InvalidInput):
        await persistence.gain_experience(novice, 500, "")
    ghost = dataclasses.replace(novice, id=uuid.uuid4())
    with pytest.raises(PlayerNotFound):
        await persistence.gain_experience(ghost, 500, "rat")
    row = await stored.player(novice.id)
    assert (row.experience, row.level) == (0, 1)


async def test_concurrent_gains_lose_no_experience_and_level_up_once_per_threshold(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    gains = await asyncio.gather(
        *(persistence.gain_experience(novice, 10, "swarm") for _ in range(100))
    )

    row = await stored.player(novice.id)
    assert row.experience == 1000
    assert row.level == 5  # xp_for_level(5) == 1000
    assert row.max_health == max_health_for(STATS, 5)
    assert sorted(g.experience for g in gains) == list(range(10, 1001, 10))
    assert sum(g.leveled_up for g in gains) == 4


async def test_concurrent_gains_across_players_each_land(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    players = [await save_player(stats=STATS, max_health=22, health=22) for _ in range(20)]

    await asyncio.gather(
        *(persistence.gain_experience(p, 100 * (i + 1), "quest") for i, p in enumerate(players))
    )

    for i, p in enumerate(players):
        row = await stored.player(p.id)
        assert row.experience == 100 * (i + 1)
        assert row.level == max(lv for lv in range(1, 51) if xp_for_level(lv) <= row.experience)


@pytest.mark.parametrize("field", STAT_NAMES)
async def test_each_stat_changes_and_clamps_between_1_and_30(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any, field: str
) -> None:
    start = getattr(STATS, field)
    assert await persistence.update_player_stat_field(novice.id, field, 3, "potion") == start + 3
    assert (await stored.player(novice.id))._mapping[field] == start + 3
    assert await persistence.update_player_stat_field(novice.id, field, 100, "wish") == 30
    assert await persistence.update_player_stat_field(novice.id, field, -100, "curse") == 1
    assert (await stored.player(novice.id))._mapping[field] == 1


async def test_lucidity_changes_and_clamps_between_0_and_100(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    assert await persistence.update_player_stat_field(novice.id, "lucidity", -30, "gaze") == 70
    assert await persistence.update_player_stat_field(novice.id, "lucidity", -500, "gaze") == 0
    assert await persistence.update_player_stat_field(novice.id, "lucidity", 0, "rest") == 0
    assert await persistence.update_player_stat_field(novice.id, "lucidity", 999, "rest") == 100
    assert (await stored.player(novice.id)).lucidity == 100


async def test_concurrent_stat_changes_lose_no_update(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    await persistence.update_player_stat_field(novice.id, "lucidity", -100, "gaze")

    await asyncio.gather(
        *(persistence.update_player_stat_field(novice.id, "lucidity", 1, "rest") for _ in range(60))
    )

    assert (await stored.player(novice.id)).lucidity == 60


@pytest.mark.parametrize(
    "field",
    ["health", "max_health", "experience", "level", "id", "name", "Strength", "", None, 3],
)
async def test_unknown_stat_fields_are_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any, field: Any
) -> None:
    before = tuple(await stored.player(novice.id))
    with pytest.raises(UnknownStatField):
        await persistence.update_player_stat_field(novice.id, field, 5, "hack")
    assert tuple(await stored.player(novice.id)) == before


@pytest.mark.parametrize("delta", [True, 1.5, "2", None, MAX_AMOUNT + 1])
async def test_bad_stat_deltas_are_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any, delta: Any
) -> None:
    with pytest.raises(InvalidAmount):
        await persistence.update_player_stat_field(novice.id, "strength", delta, "potion")
    assert (await stored.player(novice.id)).strength == STATS.strength


async def test_stat_change_refuses_a_bad_reason_or_unknown_player(
    persistence: AsyncPersistenceLayer, stored: Any, novice: Any
) -> None:
    with pytest.raises(InvalidInput):
        await persistence.update_player_stat_field(novice.id, "strength", 1, "x" * 65)
    with pytest.raises(PlayerNotFound):
        await persistence.update_player_stat_field(uuid.uuid4(), "strength", 1, "potion")
    assert (await stored.player(novice.id)).strength == STATS.strength
