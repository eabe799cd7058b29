from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kadath.domain.combat import (
    MAX_HIT_CHANCE,
    MIN_HIT_CHANCE,
    AttackOutcome,
    Combatant,
    CombatState,
    InvalidTransition,
    can_transition,
    flee_chance,
    flee_succeeds,
    hit_chance,
    initiative,
    resolve_attack,
    roll_damage,
    roll_hit,
    should_flee,
    transition,
)
from kadath.domain.rng import FixedRng


def make_combatant(ident: str, **overrides: Any) -> Combatant:
    plain = Combatant(
        id=ident,
        name=ident,
        level=1,
        strength=10,
        dexterity=10,
        armor=0,
        health=20,
        max_health=20,
    )
    return replace(plain, **overrides)


def test_initiative_adds_the_dexterity_modifier_to_a_d20() -> None:
    assert initiative(16, FixedRng([12])) == 15
    assert initiative(6, FixedRng([12])) == 10


def test_initiative_rolls_a_d20() -> None:
    assert initiative(10, FixedRng([99])) == 20
    assert initiative(10, FixedRng([-5])) == 1


def test_evenly_matched_level_zero_fighters_hit_sixty_percent_of_the_time() -> None:
    assert hit_chance(10, 0, 10, 0) == pytest.approx(0.60)


def test_dexterity_and_level_raise_hit_chance_and_armor_lowers_it() -> None:
    base = hit_chance(10, 1, 10, 0)
    assert hit_chance(14, 1, 10, 0) == pytest.approx(base + 0.10)
    assert hit_chance(10, 1, 14, 0) == pytest.approx(base - 0.10)
    assert hit_chance(10, 6, 10, 0) == pytest.approx(base + 0.05)
    assert hit_chance(10, 1, 10, 5) == pytest.approx(base - 0.10)


def test_hit_chance_is_clamped_at_both_ends() -> None:
    assert hit_chance(30, 50, 3, 0) == MAX_HIT_CHANCE
    assert hit_chance(3, 1, 30, 100) == MIN_HIT_CHANCE


@given(
    st.integers(min_value=-100, max_value=100),
    st.integers(min_value=-100, max_value=100),
    st.integers(min_value=-100, max_value=100),
    st.integers(min_value=-1000, max_value=1000),
)
def test_hit_chance_always_stays_within_bounds(
    attacker_dex: int, attacker_level: int, defender_dex: int, defender_armor: int
) -> None:
    chance = hit_chance(attacker_dex, attacker_level, defender_dex, defender_armor)
    assert MIN_HIT_CHANCE <= chance <= MAX_HIT_CHANCE


def test_roll_hit_lands_only_below_the_chance() -> None:
    assert roll_hit(0.5, FixedRng(floats=[0.49]))
    assert not roll_hit(0.5, FixedRng(floats=[0.5]))


def test_unarmed_damage_rolls_one_to_three() -> None:
    assert roll_damage(None, 10, FixedRng([0])) == 1
    assert roll_damage(None, 10, FixedRng([9])) == 3


def test_weapon_damage_adds_the_strength_modifier() -> None:
    assert roll_damage((2, 8), 16, FixedRng([5])) == 8


def test_damage_is_at_least_one_however_weak_the_attacker() -> None:
    assert roll_damage((1, 4), 1, FixedRng([1])) == 1


def test_a_landed_attack_deals_weapon_damage() -> None:
    attacker = make_combatant("ghoul", strength=14, weapon_damage=(2, 6), is_npc=True)
    defender = make_combatant("p1")
    rng = FixedRng([4], floats=[0.1])
    assert resolve_attack(attacker, defender, rng) == AttackOutcome("ghoul", "p1", True, 6)
    assert rng.exhausted


def test_a_missed_attack_deals_nothing_and_rolls_no_damage() -> None:
    rng = FixedRng(floats=[0.9])
    outcome = resolve_attack(make_combatant("a"), make_combatant("b"), rng)
    assert outcome == AttackOutcome("a", "b", hit=False, damage=0)
    assert rng.exhausted


def test_resolve_attack_uses_the_defenders_armor() -> None:
    attacker = make_combatant("a")
    # 0.61 base for level 1; armor 10 drops it to 0.41, so a 0.5 draw misses.
    assert resolve_attack(attacker, make_combatant("b"), FixedRng([2], floats=[0.5])).hit
    assert not resolve_attack(attacker, make_combatant("b", armor=10), FixedRng(floats=[0.5])).hit


def test_should_flee_below_the_threshold_fraction() -> None:
    assert should_flee(4, 20, 0.25)
    assert not should_flee(5, 20, 0.25)


def test_the_dead_and_the_fearless_never_flee() -> None:
    assert not should_flee(0, 20, 0.5)
    assert not should_flee(1, 20, 0.0)


def test_should_flee_refuses_a_zero_maximum() -> None:
    with pytest.raises(ValueError, match="max_health"):
        should_flee(1, 0, 0.5)


def test_flee_chance_grows_with_dexterity_within_bounds() -> None:
    assert flee_chance(10) == pytest.approx(0.5)
    assert flee_chance(14) == pytest.approx(0.6)
    assert flee_chance(40) == pytest.approx(0.9)
    assert flee_chance(1) == pytest.approx(0.25)
    assert flee_chance(-40) == pytest.approx(0.1)


def test_flee_succeeds_on_a_draw_below_the_chance() -> None:
    assert flee_succeeds(14, FixedRng(floats=[0.59]))
    assert not flee_succeeds(14, FixedRng(floats=[0.6]))


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (CombatState.IDLE, CombatState.ENGAGED),
        (CombatState.ENGAGED, CombatState.FLED),
        (CombatState.ENGAGED, CombatState.IDLE),
        (CombatState.ENGAGED, CombatState.DEAD),
        (CombatState.FLED, CombatState.ENGAGED),
        (CombatState.FLED, CombatState.IDLE),
        (CombatState.IDLE, CombatState.DEAD),
        (CombatState.DEAD, CombatState.IDLE),
    ],
)
def test_allowed_combat_transitions(frm: CombatState, to: CombatState) -> None:
    assert can_transition(frm, to)
    assert CombatState.can_transition(frm, to)
    assert transition(frm, to) is to


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (CombatState.IDLE, CombatState.FLED),
        (CombatState.DEAD, CombatState.ENGAGED),
        (CombatState.DEAD, CombatState.FLED),
        (CombatState.DEAD, CombatState.DEAD),
        (CombatState.ENGAGED, CombatState.ENGAGED),
    ],
)
def test_forbidden_combat_transitions_raise(frm: CombatState, to: CombatState) -> None:
    assert not can_transition(frm, to)
    with pytest.raises(InvalidTransition, match=f"from combat state {frm} to {to}"):
        transition(frm, to)
