import pytest

from kadath.domain.rng import FixedRng, RandomRng, RngExhausted


def test_fixed_rng_returns_queued_ints_in_order() -> None:
    rng = FixedRng([3, 5, 1])
    assert [rng.randint(1, 6) for _ in range(3)] == [3, 5, 1]


def test_fixed_rng_clamps_queued_ints_into_the_asked_range() -> None:
    rng = FixedRng([0, 99])
    assert rng.randint(1, 6) == 1
    assert rng.randint(1, 6) == 6


def test_fixed_rng_raises_a_clear_error_when_ints_run_out() -> None:
    rng = FixedRng([4])
    rng.randint(1, 6)
    with pytest.raises(RngExhausted, match=r"randint\(1, 20\)"):
        rng.randint(1, 20)


def test_fixed_rng_returns_queued_floats_then_raises() -> None:
    rng = FixedRng(floats=[0.25, 0.75])
    assert rng.random() == 0.25
    assert rng.random() == 0.75
    with pytest.raises(RngExhausted, match="random"):
        rng.random()


def test_fixed_rng_refuses_floats_outside_the_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        FixedRng(floats=[1.0])


def test_fixed_rng_choice_picks_the_first_element_without_a_queue() -> None:
    rng = FixedRng()
    assert rng.choice(["a", "b", "c"]) == "a"
    assert rng.choice(["x", "y"]) == "x"


def test_fixed_rng_choice_follows_the_queued_indexes() -> None:
    rng = FixedRng(choices=[2, 1])
    assert rng.choice(["a", "b", "c"]) == "c"
    assert rng.choice(["a", "b", "c"]) == "b"
    with pytest.raises(RngExhausted):
        rng.choice(["a"])


def test_fixed_rng_choice_rejects_an_index_past_the_sequence() -> None:
    with pytest.raises(IndexError, match="index 3"):
        FixedRng(choices=[3]).choice(["a", "b"])


def test_fixed_rng_reports_when_every_value_is_used() -> None:
    rng = FixedRng([1], floats=[0.5])
    rng.randint(1, 2)
    assert not rng.exhausted
    rng.random()
    assert rng.exhausted


def test_random_rng_with_the_same_seed_repeats_itself() -> None:
    first, second = RandomRng(seed=7), RandomRng(seed=7)
    rolls = [first.randint(1, 100) for _ in range(20)]
    assert rolls == [second.randint(1, 100) for _ in range(20)]
    assert len(set(rolls)) > 1


def test_random_rng_stays_within_its_ranges() -> None:
    rng = RandomRng(seed=1)
    for _ in range(200):
        assert 2 <= rng.randint(2, 4) <= 4
        assert 0.0 <= rng.random() < 1.0
        assert rng.choice("xyz") in "xyz"
