from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kadath.domain.experience import (
    MAX_LEVEL,
    level_for_xp,
    xp_for_kill,
    xp_for_level,
    xp_to_next_level,
)


def test_level_one_needs_no_experience() -> None:
    assert xp_for_level(1) == 0


def test_the_curve_grows_faster_at_each_level() -> None:
    assert [xp_for_level(n) for n in (2, 3, 4)] == [100, 300, 600]
    steps = [xp_for_level(n + 1) - xp_for_level(n) for n in range(1, MAX_LEVEL)]
    assert all(later > earlier for earlier, later in pairwise(steps))


@pytest.mark.parametrize("level", [0, MAX_LEVEL + 1])
def test_levels_outside_the_curve_are_refused(level: int) -> None:
    with pytest.raises(ValueError, match="level"):
        xp_for_level(level)


def test_one_point_short_of_a_level_stays_below_it() -> None:
    assert level_for_xp(299) == 2
    assert level_for_xp(300) == 3


def test_level_is_capped_at_the_maximum() -> None:
    assert level_for_xp(10**9) == MAX_LEVEL


def test_negative_experience_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        level_for_xp(-1)


@given(st.integers(min_value=1, max_value=MAX_LEVEL))
def test_level_for_xp_inverts_xp_for_level(level: int) -> None:
    assert level_for_xp(xp_for_level(level)) == level


@given(st.integers(min_value=0, max_value=xp_for_level(MAX_LEVEL) * 2))
def test_level_for_xp_is_the_highest_level_reached(xp: int) -> None:
    level = level_for_xp(xp)
    assert xp_for_level(level) <= xp
    assert level == MAX_LEVEL or xp_for_level(level + 1) > xp


def test_xp_to_next_level_counts_the_remaining_points() -> None:
    assert xp_to_next_level(0) == 100
    assert xp_to_next_level(250) == 50
    assert xp_to_next_level(xp_for_level(MAX_LEVEL)) is None


def test_a_fair_kill_gives_the_full_base_xp() -> None:
    assert xp_for_kill(victim_level=5, killer_level=5, base_xp=40) == 40
    assert xp_for_kill(victim_level=3, killer_level=5, base_xp=40) == 40
    assert xp_for_kill(victim_level=9, killer_level=5, base_xp=40) == 40


def test_each_level_beyond_the_grace_costs_a_fifth() -> None:
    assert xp_for_kill(victim_level=2, killer_level=5, base_xp=40) == 32
    assert xp_for_kill(victim_level=2, killer_level=7, base_xp=10) == 4


def test_a_trivial_kill_still_gives_one_point() -> None:
    assert xp_for_kill(victim_level=1, killer_level=40, base_xp=500) == 1
    assert xp_for_kill(victim_level=1, killer_level=1, base_xp=0) == 1


def test_negative_base_xp_is_refused() -> None:
    with pytest.raises(ValueError, match="base_xp"):
        xp_for_kill(1, 1, -5)
