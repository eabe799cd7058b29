from dataclasses import fields

import pytest

from kadath.domain.errors import InvalidInput
from kadath.domain.rng import FixedRng
from kadath.domain.stats import (
    STAT_NAMES,
    InvalidStats,
    Stats,
    StatsMethod,
    ability_modifier,
    generate_for_profession,
    max_health_for,
    meets_requirements,
    missing_requirements,
    point_buy,
    point_buy_cost,
    roll_stats,
)


def make_stats(**overrides: int) -> Stats:
    values = dict.fromkeys(STAT_NAMES, 10) | overrides
    return Stats(**values)


def test_stat_names_match_the_stats_fields_in_order() -> None:
    assert tuple(f.name for f in fields(Stats)) == STAT_NAMES


def test_as_dict_and_from_dict_round_trip() -> None:
    stats = Stats(8, 9, 10, 11, 12, 13)
    assert stats.as_dict() == {
        "strength": 8,
        "dexterity": 9,
        "constitution": 10,
        "intelligence": 11,
        "wisdom": 12,
        "charisma": 13,
    }
    assert Stats.from_dict(stats.as_dict()) == stats


def test_from_dict_names_the_missing_stat() -> None:
    values: dict[str, object] = dict(make_stats().as_dict())
    del values["wisdom"]
    with pytest.raises(InvalidStats, match="wisdom"):
        Stats.from_dict(values)


def test_from_dict_rejects_an_unknown_stat() -> None:
    values: dict[str, object] = {**make_stats().as_dict(), "luck": 12}
    with pytest.raises(InvalidStats, match="luck"):
        Stats.from_dict(values)


@pytest.mark.parametrize("bad", ["12", 12.0, True, None])
def test_from_dict_rejects_values_that_are_not_whole_numbers(bad: object) -> None:
    values: dict[str, object] = {**make_stats().as_dict(), "charisma": bad}
    with pytest.raises(InvalidStats, match="charisma"):
        Stats.from_dict(values)


def test_invalid_stats_is_a_player_facing_input_error() -> None:
    assert issubclass(InvalidStats, InvalidInput)


@pytest.mark.parametrize(
    ("score", "expected"), [(1, -5), (8, -1), (9, -1), (10, 0), (11, 0), (12, 1), (18, 4)]
)
def test_modifier_is_half_the_distance_from_ten_rounded_down(score: int, expected: int) -> None:
    assert ability_modifier(score) == expected
    assert make_stats(dexterity=score).modifier("dexterity") == expected


def test_modifier_of_an_unknown_stat_is_refused() -> None:
    with pytest.raises(InvalidStats, match="luck"):
        make_stats().modifier("luck")


def test_three_d6_sums_three_dice_per_stat_in_order() -> None:
    rng = FixedRng([1, 1, 1, 6, 6, 6, 2, 3, 4, 5, 5, 5, 1, 2, 3, 4, 4, 4])
    stats = roll_stats(StatsMethod.THREE_D6, rng)
    assert stats == Stats(3, 18, 9, 15, 6, 12)
    assert rng.exhausted


def test_four_d6_drops_the_lowest_die() -> None:
    rng = FixedRng([1, 6, 6, 6, 3, 3, 3, 3, 6, 5, 4, 2, 1, 1, 1, 1, 2, 4, 6, 5, 6, 1, 6, 6])
    stats = roll_stats(StatsMethod.FOUR_D6_DROP_LOWEST, rng)
    assert stats == Stats(18, 9, 15, 3, 15, 18)
    assert rng.exhausted


def test_point_buy_cannot_be_rolled() -> None:
    with pytest.raises(InvalidStats, match="chosen"):
        roll_stats(StatsMethod.POINT_BUY, FixedRng())


def test_point_buy_accepts_a_build_that_spends_the_whole_budget() -> None:
    values = {
        "strength": 15,
        "dexterity": 14,
        "constitution": 13,
        "intelligence": 12,
        "wisdom": 10,
        "charisma": 8,
    }
    assert point_buy_cost(values) == 27
    assert point_buy(values) == Stats(15, 14, 13, 12, 10, 8)


def test_point_buy_costs_follow_the_table() -> None:
    assert point_buy_cost({"strength": 8}) == 0
    assert point_buy_cost({"strength": 13}) == 5
    assert point_buy_cost({"strength": 14}) == 7
    assert point_buy_cost({"strength": 15}) == 9


def test_point_buy_refuses_a_build_over_budget() -> None:
    values = dict.fromkeys(STAT_NAMES, 12)  # 6 * 4 = 24 points
    values["strength"] = 15  # 24 - 4 + 9 = 29 points
    with pytest.raises(InvalidStats, match="cost 29 points; you have only 27"):
        point_buy(values)


@pytest.mark.parametrize("score", [7, 16])
def test_point_buy_refuses_scores_outside_eight_to_fifteen(score: int) -> None:
    values = dict.fromkeys(STAT_NAMES, 8) | {"wisdom": score}
    with pytest.raises(InvalidStats, match=f"Wisdom must be between 8 and 15, not {score}"):
        point_buy(values)


def test_point_buy_requires_every_stat() -> None:
    values = dict.fromkeys(STAT_NAMES[:-1], 8)
    with pytest.raises(InvalidStats, match="charisma"):
        point_buy(values)


def test_requirements_are_met_at_exactly_the_minimum() -> None:
    stats = make_stats(strength=12)
    assert meets_requirements(stats, {"strength": 12})
    assert not meets_requirements(stats, {"strength": 13})


def test_missing_requirements_explain_each_shortfall_in_stat_order() -> None:
    stats = make_stats(strength=9, wisdom=14, intelligence=7)
    requirements = {"intelligence": 10, "wisdom": 12, "strength": 12}
    assert missing_requirements(stats, requirements) == [
        "strength 12 needed, you have 9",
        "intelligence 10 needed, you have 7",
    ]


def test_requirements_naming_an_unknown_stat_are_refused() -> None:
    with pytest.raises(InvalidStats, match="luck"):
        meets_requirements(make_stats(), {"luck": 3})


def test_generate_for_profession_rerolls_until_requirements_are_met() -> None:
    weak = [1, 1, 1] * 6
    strong_first = [6, 6, 6] + [1, 1, 1] * 5
    rng = FixedRng(weak + strong_first)
    stats = generate_for_profession(StatsMethod.THREE_D6, rng, {"strength": 15})
    assert stats.strength == 18
    assert rng.exhausted


def test_generate_for_profession_gives_up_after_max_attempts() -> None:
    rng = FixedRng([1] * 18 * 3)
    with pytest.raises(InvalidStats, match="3 rolls"):
        generate_for_profession(StatsMethod.THREE_D6, rng, {"strength": 4}, max_attempts=3)
    assert rng.exhausted


def test_generate_for_profession_refuses_point_buy() -> None:
    with pytest.raises(InvalidStats):
        generate_for_profession(StatsMethod.POINT_BUY, FixedRng(), {})


def test_max_health_grows_with_level_and_constitution() -> None:
    assert max_health_for(make_stats(constitution=10), 1) == 20
    assert max_health_for(make_stats(constitution=10), 3) == 30
    assert max_health_for(make_stats(constitution=16), 1) == 26


def test_max_health_never_drops_below_ten() -> None:
    assert max_health_for(make_stats(constitution=1), 1) == 10


def test_max_health_refuses_level_zero() -> None:
    with pytest.raises(ValueError, match="level"):
        max_health_for(make_stats(), 0)
